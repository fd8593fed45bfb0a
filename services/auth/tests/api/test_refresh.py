"""Refresh-token rotation: one successor per token, benign repeats, theft, lifetimes, failures."""

from __future__ import annotations

import asyncio
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from auth_service.adapters.models import RefreshTokenRow
from auth_service.config import Settings
from auth_service.domain.refresh_tokens import generate_refresh_token, hash_refresh_token
from auth_service.domain.sessions import PresentedToken
from auth_service.use_cases import refresh as rotation
from auth_service.use_cases.refresh import REFUSED
from sqlalchemy import insert

from ..session_support import (  # noqa: TID252 (shared test helpers)
    Auth,
    mobile_login,
    refresh_mobile,
    register,
    running,
)


@pytest.fixture
async def auth(auth: Auth) -> Auth:
    """The running auth of conftest.py, with ada registered."""
    await register(auth.http, "ada@example.com")
    return auth


async def test_a_refresh_rotates_to_one_new_token_in_the_same_session(auth: Auth) -> None:
    login = await mobile_login(auth.http, "ada@example.com")
    response = await refresh_mobile(auth.http, login["refresh_token"])

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["refresh_token"].startswith("tsr_")
    assert body["refresh_token"] != login["refresh_token"]
    sid = jwt.decode(login["access_token"], options={"verify_signature": False})["sid"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["sid"], claims["client_id"]) == (sid, "mobile")
    stored = {row.token_hash for row in await auth.refresh_token_rows()}
    assert stored == {
        hash_refresh_token(login["refresh_token"]),
        hash_refresh_token(body["refresh_token"]),
    }


async def test_a_refresh_keeps_how_and_when_the_user_authenticated(auth: Auth) -> None:
    login = await mobile_login(auth.http, "ada@example.com")
    signed_in = jwt.decode(login["access_token"], options={"verify_signature": False})
    auth.clock.advance(600)

    response = await refresh_mobile(auth.http, login["refresh_token"])

    refreshed = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert refreshed["iat"] == signed_in["iat"] + 600
    assert signed_in["auth_time"] == signed_in["iat"]  # a password sign-in, just now
    for claim in ("auth_time", "acr", "amr"):
        assert refreshed[claim] == signed_in[claim], claim
    assert (refreshed["acr"], refreshed["amr"]) == ("urn:tessera:acr:pwd", ["pwd"])


async def test_twenty_concurrent_refreshes_share_one_successor_and_keep_the_family(
    auth: Auth,
) -> None:
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]

    responses = await asyncio.gather(*(refresh_mobile(auth.http, token) for _ in range(20)))

    successors = {r.json()["refresh_token"] for r in responses if r.status_code == 200}
    errors = [r for r in responses if r.status_code != 200]
    assert len(successors) == 1
    assert all(r.status_code in (400, 503) and "error" in r.json() for r in errors)
    assert len(await auth.refresh_token_rows()) == 2  # the parent and exactly one successor
    (session,) = (await auth.sessions()).values()
    assert session.revoked_at is None
    assert (await refresh_mobile(auth.http, successors.pop())).status_code == 200


async def test_a_lost_response_retried_inside_the_window_gets_the_same_successor(
    auth: Auth,
) -> None:
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    first = (await refresh_mobile(auth.http, token)).json()
    auth.clock.advance(9)

    retry = await refresh_mobile(auth.http, token)

    assert retry.status_code == 200
    assert retry.json()["refresh_token"] == first["refresh_token"]
    assert "refresh.repeat" in await auth.audit_events()
    assert (await refresh_mobile(auth.http, first["refresh_token"])).status_code == 200


async def test_a_refresh_that_read_the_clock_before_the_winner_rotated_gets_the_same_successor(
    auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of two concurrent refreshes, made deterministic: the loser reads the clock and
    the still unused token, then the winner (reading the clock a second later) rotates before
    the loser writes; the loser's write finds the token used and it goes to the row lock."""
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    loser_has_read_the_token = asyncio.Event()
    winner_has_committed = asyncio.Event()
    connection_type = type(auth.runtime.refresh_tokens.rotation_connections())
    real_find = connection_type.find
    find_calls = 0

    async def find_before_the_winner(self: Any, token_hash: bytes) -> PresentedToken | None:
        nonlocal find_calls
        find_calls += 1
        found: PresentedToken | None = await real_find(self, token_hash)
        if find_calls == 1:  # the loser: its `now` is read, the token still unused
            loser_has_read_the_token.set()
            await winner_has_committed.wait()
        return found

    monkeypatch.setattr(connection_type, "find", find_before_the_winner)
    loser = asyncio.create_task(refresh_mobile(auth.http, token))
    await loser_has_read_the_token.wait()
    auth.clock.advance(1)
    winner = await refresh_mobile(auth.http, token)
    winner_has_committed.set()
    repeat = await loser

    assert (winner.status_code, repeat.status_code) == (200, 200), repeat.text
    successor = winner.json()["refresh_token"]
    assert repeat.json()["refresh_token"] == successor
    rotated = next(r for r in await auth.refresh_token_rows() if r.generation == 1)
    assert rotated.used_at is not None
    assert rotated.used_at.timestamp() == auth.clock.now  # the winner's reading, after the loser's
    (session,) = (await auth.sessions()).values()
    assert session.revoked_at is None
    assert await auth.events() == []
    audit = await auth.audit_events()
    assert (audit.count("refresh"), audit.count("refresh.repeat")) == (1, 1)  # the loser wrote
    assert len(await auth.refresh_token_rows()) == 2  # nothing of a rotation of its own
    assert (await refresh_mobile(auth.http, successor)).status_code == 200


async def test_a_repeat_served_by_a_replica_whose_clock_is_behind_gets_the_same_successor(
    auth: Auth,
) -> None:
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    auth.clock.advance(3)
    first = (await refresh_mobile(auth.http, token)).json()["refresh_token"]  # a replica 3 s ahead
    auth.clock.advance(-3)

    retry = await refresh_mobile(auth.http, token)

    assert retry.status_code == 200, retry.text
    assert retry.json()["refresh_token"] == first
    assert await auth.events() == []
    assert (await refresh_mobile(auth.http, first)).status_code == 200


@pytest.mark.parametrize(("seconds_after", "benign"), [(10, True), (10.5, False)])
async def test_the_window_ends_exactly_at_the_grace_seconds(
    auth: Auth, seconds_after: float, benign: bool
) -> None:
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    first = (await refresh_mobile(auth.http, token)).json()["refresh_token"]
    auth.clock.advance(seconds_after)

    retry = await refresh_mobile(auth.http, token)

    if benign:
        assert retry.json()["refresh_token"] == first
        assert await auth.events() == []
    else:
        assert retry.json()["error"] == "invalid_grant"
        assert [kind for kind, _, _ in await auth.events()] == ["session"]


async def test_a_repeat_checks_the_opened_successor_against_its_hash_in_constant_time(
    auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    first = (await refresh_mobile(auth.http, token)).json()["refresh_token"]
    compared: list[tuple[object, object]] = []
    real_compare_digest = hmac.compare_digest

    def recording_compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real_compare_digest(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording_compare_digest)
    retry = await refresh_mobile(auth.http, token)

    assert retry.json()["refresh_token"] == first
    assert (hash_refresh_token(first), hash_refresh_token(first)) in compared


async def test_the_parent_presented_after_the_window_revokes_the_family(auth: Auth) -> None:
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    live = (await refresh_mobile(auth.http, token)).json()["refresh_token"]
    auth.clock.advance(11)

    reuse = await refresh_mobile(auth.http, token)

    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    assert (await refresh_mobile(auth.http, live)).json()["error"] == "invalid_grant"
    (session,) = (await auth.sessions()).values()
    assert session.revoked_reason == "reuse_detected"
    assert await auth.events() == [("session", session.id, None)]
    assert "session.reuse_detected" in await auth.audit_events()
    assert all(row.sealed_successor is None for row in await auth.refresh_token_rows())


async def test_reusing_a_token_two_generations_old_revokes_the_family_even_inside_the_window(
    auth: Auth,
) -> None:
    first = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    second = (await refresh_mobile(auth.http, first)).json()["refresh_token"]
    live = (await refresh_mobile(auth.http, second)).json()["refresh_token"]

    reuse = await refresh_mobile(auth.http, first)

    assert reuse.json()["error"] == "invalid_grant"
    assert (await refresh_mobile(auth.http, live)).json()["error"] == "invalid_grant"
    assert [kind for kind, _, _ in await auth.events()] == ["session"]


async def test_with_the_window_off_any_repeat_is_reuse(settings: Settings) -> None:
    async with running(settings, REFRESH_GRACE_SECONDS=0) as auth:
        await register(auth.http, "ada@example.com")
        token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
        live = (await refresh_mobile(auth.http, token)).json()["refresh_token"]

        assert (await refresh_mobile(auth.http, token)).json()["error"] == "invalid_grant"
        assert (await refresh_mobile(auth.http, live)).json()["error"] == "invalid_grant"
        assert all(row.sealed_successor is None for row in await auth.refresh_token_rows())


async def test_sealed_successors_are_not_plaintext_and_only_the_live_parent_keeps_one(
    auth: Auth,
) -> None:
    first = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    second = (await refresh_mobile(auth.http, first)).json()["refresh_token"]
    third = (await refresh_mobile(auth.http, second)).json()["refresh_token"]

    sealed = {row.token_hash: row.sealed_successor for row in await auth.refresh_token_rows()}
    assert sealed[hash_refresh_token(first)] is None  # cleared at the next rotation
    assert sealed[hash_refresh_token(third)] is None
    parent_copy = sealed[hash_refresh_token(second)]
    assert parent_copy is not None
    assert third.encode() not in parent_copy


async def test_an_unknown_token_is_invalid_grant_and_changes_nothing(auth: Auth) -> None:
    await mobile_login(auth.http, "ada@example.com")
    response = await refresh_mobile(auth.http, "tsr_" + "A" * 43)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert await auth.events() == []


async def test_a_web_token_presented_as_mobile_is_rejected_without_killing_the_session(
    auth: Auth,
) -> None:
    from ..session_support import refresh_web, web_login  # noqa: TID252

    async with auth.browser() as browser:
        await web_login(browser, "ada@example.com")
        web_token = browser.cookies.get("__Secure-tessera_rt")
        assert web_token is not None
        response = await refresh_mobile(auth.http, web_token)

        assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
        assert (await refresh_web(browser)).status_code == 200


@pytest.mark.parametrize(
    ("params", "error", "status"),
    [
        ({"grant_type": "refresh_token", "refresh_token": "tsr_x"}, "invalid_request", 400),
        ({"grant_type": "refresh_token", "client_id": "desktop"}, "invalid_client", 401),
        ({"grant_type": "refresh_token", "client_id": "mobile"}, "invalid_request", 400),
        ({"grant_type": "password", "client_id": "mobile"}, "unsupported_grant_type", 400),
    ],
)
async def test_malformed_token_requests_get_rfc6749_errors(
    auth: Auth, params: dict[str, str], error: str, status: int
) -> None:
    response = await auth.http.post("/v1/auth/token", data=params)
    assert (response.status_code, response.json()["error"]) == (status, error)


async def test_cookie_and_body_token_at_once_is_invalid_request(auth: Auth) -> None:
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    response = await auth.http.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "client_id": "mobile", "refresh_token": token},
        headers={"Cookie": f"__Secure-tessera_rt={token}"},
    )
    assert response.json()["error"] == "invalid_request"


async def test_json_bodies_are_accepted_too(auth: Auth) -> None:
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    response = await auth.http.post(
        "/v1/auth/token",
        json={"grant_type": "refresh_token", "client_id": "mobile", "refresh_token": token},
    )
    assert response.status_code == 200


async def test_an_idle_session_expires(settings: Settings) -> None:
    async with running(settings, MOBILE_SESSION_IDLE_SECONDS=3600) as auth:
        await register(auth.http, "ada@example.com")
        token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
        auth.clock.advance(3599)
        token = (await refresh_mobile(auth.http, token)).json()["refresh_token"]
        auth.clock.advance(3599)  # used just in time: the idle timer restarted
        token = (await refresh_mobile(auth.http, token)).json()["refresh_token"]
        auth.clock.advance(3600)

        response = await refresh_mobile(auth.http, token)

        assert response.json() == {"error": "invalid_grant", "error_description": REFUSED}


async def test_a_session_in_use_still_ends_at_its_absolute_lifetime(settings: Settings) -> None:
    async with running(
        settings, MOBILE_SESSION_IDLE_SECONDS=3600, MOBILE_SESSION_ABSOLUTE_SECONDS=3 * 3600
    ) as auth:
        await register(auth.http, "ada@example.com")
        token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
        for _ in range(5):
            auth.clock.advance(1800)
            response = await refresh_mobile(auth.http, token)
            assert response.status_code == 200
            token = response.json()["refresh_token"]
        auth.clock.advance(1800)

        response = await refresh_mobile(auth.http, token)

        assert response.json() == {"error": "invalid_grant", "error_description": REFUSED}


async def test_a_database_error_during_refresh_is_503_and_leaves_the_family_intact(
    auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    # the successor collides with the presented token's primary key: the INSERT really fails
    # in the database, after the UPDATE that marked the presented token used
    monkeypatch.setattr(rotation, "generate_refresh_token", lambda: token)

    failed = await refresh_mobile(auth.http, token)

    assert failed.status_code == 503
    assert failed.json()["error"] == "temporarily_unavailable"
    monkeypatch.undo()
    (row,) = await auth.refresh_token_rows()
    assert (row.used_at, row.successor_hash, row.sealed_successor) == (None, None, None)
    retried = await refresh_mobile(auth.http, token)
    assert retried.status_code == 200
    (session,) = (await auth.sessions()).values()
    assert session.revoked_at is None
    assert await auth.events() == []


async def test_a_body_that_is_not_a_form_is_an_rfc6749_invalid_request(auth: Auth) -> None:
    response = await auth.http.post(
        "/v1/auth/token",
        content=b"grant_type=refresh_token",
        headers={"Content-Type": "multipart/form-data"},  # no boundary: unparseable
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.headers["cache-control"] == "no-store"


async def test_any_used_token_of_a_family_ten_thousand_rotations_long_revokes_it(
    auth: Auth,
) -> None:
    # A 90-day mobile session refreshed every 5 minutes has ~26,000 generations: an old one
    # presented again is still reuse (found by its hash), however long the family has grown.
    login = await mobile_login(auth.http, "ada@example.com")
    session_id = jwt.decode(login["access_token"], options={"verify_signature": False})["sid"]
    now = datetime.fromtimestamp(auth.clock.now, UTC)
    old_tokens = [generate_refresh_token() for _ in range(10_000)]
    async with auth.runtime.storage.session_factory() as db, db.begin():
        await db.execute(
            insert(RefreshTokenRow),
            [
                {
                    "token_hash": hash_refresh_token(token),
                    "session_id": session_id,
                    "generation": -index,  # older than the login's token
                    "created_at": now - timedelta(minutes=5 * index),
                    "used_at": now - timedelta(minutes=5 * index - 1),
                    "successor_hash": hash_refresh_token(generate_refresh_token()),
                }
                for index, token in enumerate(old_tokens, start=1)
            ],
        )
    live = (await refresh_mobile(auth.http, login["refresh_token"])).json()["refresh_token"]

    reuse = await refresh_mobile(auth.http, old_tokens[6_789])

    assert reuse.json()["error"] == "invalid_grant"
    assert (await refresh_mobile(auth.http, live)).json()["error"] == "invalid_grant"
    (session,) = (await auth.sessions()).values()
    assert session.revoked_reason == "reuse_detected"
