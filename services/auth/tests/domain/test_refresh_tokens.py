"""Refresh-token shapes and hashes: what rotation relies on before it touches the database."""

from __future__ import annotations

from auth_service.domain.refresh_tokens import (
    generate_refresh_token,
    hash_refresh_token,
    hashes_match,
    open_successor,
    seal_successor,
)


def test_hashes_match_only_equal_hashes_and_never_a_missing_one() -> None:
    token = generate_refresh_token()
    same, other = hash_refresh_token(token), hash_refresh_token(generate_refresh_token())

    assert hashes_match(same, hash_refresh_token(token))
    assert not hashes_match(same, other)
    assert not hashes_match(same, None)
    assert not hashes_match(None, None)


def test_only_the_parent_token_opens_its_sealed_successor() -> None:
    parent, successor = generate_refresh_token(), generate_refresh_token()
    sealed = seal_successor(parent, successor, session_id="s1")

    assert open_successor(parent, sealed, session_id="s1") == successor
    assert open_successor(generate_refresh_token(), sealed, session_id="s1") is None
    assert open_successor(parent, sealed, session_id="s2") is None
