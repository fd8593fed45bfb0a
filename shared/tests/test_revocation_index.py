"""RevocationIndex: what each event revokes, pruning, fail-closed staleness, events parsing."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from tessera import InvalidTokenError, Principal, RevocationEvent, RevocationIndex, TokenVerifier
from tessera.revocation import MalformedEventError

from .manual_clock import ManualClock

NOW = 1_750_000_000

PRINCIPAL = Principal(
    sub="user-1",
    sid="session-1",
    client_id="web",
    scopes=frozenset({"orders:read"}),
    roles=frozenset({"user"}),
    ver=3,
    jti="jti-1",
    issued_at=NOW,
    expires_at=NOW + 300,
    audience=("orders",),
    actor=None,
    token="not-a-real-token",
    kid="key-1",
)


def event(kind: str, value: str, expires_at: Any = NOW + 300, **extra: Any) -> RevocationEvent:
    return RevocationEvent.from_json(
        {"id": 1, "kind": kind, "value": value, "expires_at": expires_at, **extra}
    )


def test_an_empty_index_revokes_nothing() -> None:
    assert RevocationIndex().check(PRINCIPAL) is None


@pytest.mark.parametrize(
    ("revocation", "reason_word"),
    [
        (event("session", "session-1"), "session"),
        (event("user", "user-1", min_ver=4), "user"),
        (event("token", "jti-1"), "token"),
        (event("key", "key-1"), "key"),
    ],
)
def test_each_kind_of_event_revokes_the_tokens_it_names(
    revocation: RevocationEvent, reason_word: str
) -> None:
    index = RevocationIndex()
    index.apply(revocation)

    reason = index.check(PRINCIPAL)
    assert reason is not None
    assert reason_word in reason
    assert PRINCIPAL.token not in reason


def test_a_user_event_revokes_only_token_versions_below_min_ver() -> None:
    index = RevocationIndex()
    index.apply(event("user", "user-1", min_ver=3))

    assert index.check(PRINCIPAL) is None
    assert index.check(replace(PRINCIPAL, ver=2)) is not None
    assert index.check(replace(PRINCIPAL, sub="user-2", ver=0)) is None


def test_events_of_other_sessions_tokens_and_keys_do_not_match() -> None:
    index = RevocationIndex()
    for kind, value in (("session", "session-2"), ("token", "jti-2"), ("key", "key-2")):
        index.apply(event(kind, value))

    assert index.check(PRINCIPAL) is None
    assert index.check(replace(PRINCIPAL, sid=None)) is None


def test_repeated_or_late_events_only_widen_an_entry() -> None:
    index = RevocationIndex()
    index.apply(event("user", "user-1", min_ver=5, expires_at=NOW + 600))
    index.apply(event("user", "user-1", min_ver=4, expires_at=NOW + 100))
    index.apply(event("session", "session-1", expires_at=NOW + 600))
    index.apply(event("session", "session-1", expires_at=NOW + 100))

    assert index.users["user-1"] == (5, NOW + 600)
    assert index.sessions["session-1"] == NOW + 600


def test_prune_drops_entries_once_no_token_they_match_can_still_be_accepted() -> None:
    index = RevocationIndex(leeway_seconds=30)
    index.apply(event("session", "old", expires_at=NOW - 31))
    index.apply(event("session", "within-leeway", expires_at=NOW - 29))
    index.apply(event("user", "old-user", min_ver=2, expires_at=NOW - 100))
    index.apply(event("token", "live-jti", expires_at=NOW + 10))
    index.apply(event("key", "old-key", expires_at=NOW - 1000))

    assert index.prune(NOW) == 3
    assert index.sizes() == {"session": 1, "user": 0, "token": 1, "key": 0}
    assert "within-leeway" in index.sessions


def test_the_index_fails_open_by_default_however_stale() -> None:
    clock = ManualClock(50.0)
    index = RevocationIndex(clock=clock)
    assert index.staleness_seconds() == math.inf
    assert index.check(PRINCIPAL) is None


def test_with_fail_closed_a_stale_index_refuses_every_token() -> None:
    clock = ManualClock(50.0)
    index = RevocationIndex(clock=clock, fail_closed_after_seconds=10)
    assert index.check(PRINCIPAL) is not None  # never synced

    index.mark_synced()
    clock.now += 10
    assert index.check(PRINCIPAL) is None
    clock.now += 1
    assert index.check(PRINCIPAL) == "Revocation status is unavailable; try again later"


def test_an_open_watch_keeps_the_index_fresh_until_it_fails() -> None:
    clock = ManualClock(50.0)
    index = RevocationIndex(clock=clock, fail_closed_after_seconds=5)
    index.mark_synced()
    index.mark_watching(40)
    clock.now += 25
    assert index.staleness_seconds() == 0
    assert index.check(PRINCIPAL) is None

    index.mark_disconnected()  # the poll broke at 25 s: fresh until then, ageing from here
    clock.now += 6
    assert index.staleness_seconds() == 6
    assert index.check(PRINCIPAL) is not None


def test_a_watch_that_hangs_past_its_deadline_counts_as_stale_from_the_deadline() -> None:
    clock = ManualClock(50.0)
    index = RevocationIndex(clock=clock)
    index.mark_synced()
    index.mark_watching(40)
    clock.now += 100
    assert index.staleness_seconds() == 100

    index.mark_disconnected()
    assert index.staleness_seconds() == 60


async def test_the_verifier_rejects_a_revoked_session_even_from_its_cache(
    verifier: TokenVerifier, mint: Callable[..., str]
) -> None:
    index = RevocationIndex()
    verifier.revocation_check = index.check
    token = mint()
    assert (await verifier.verify(token)).kid == "key-1"

    index.apply(event("session", "session-1"))
    with pytest.raises(InvalidTokenError) as raised:
        await verifier.verify(token)
    assert raised.value.reason == "revoked"


@pytest.mark.parametrize(
    "expires_at", [NOW, float(NOW) - 0.5, "2025-06-15T15:06:40Z", "2025-06-15T17:06:40+02:00"]
)
def test_expires_at_is_unix_seconds_or_rfc3339(expires_at: Any) -> None:
    assert event("session", "s", expires_at=expires_at).expires_at == NOW


@pytest.mark.parametrize(
    "item",
    [
        {"id": 1, "kind": "session", "value": "s"},
        {"id": 1, "kind": "session", "value": "s", "expires_at": "2025-06-15T15:06:40"},
        {"id": 1, "kind": "session", "value": "s", "expires_at": True},
        {"id": 1, "kind": "user", "value": "u", "expires_at": NOW},
        {"id": 1, "kind": "device", "value": "d", "expires_at": NOW},
        {"id": 1, "kind": "session", "value": "", "expires_at": NOW},
        {"kind": "session", "value": "s", "expires_at": NOW},
        ["session", "s"],
    ],
)
def test_malformed_events_are_refused(item: Any) -> None:
    with pytest.raises(MalformedEventError):
        RevocationEvent.from_json(item)
