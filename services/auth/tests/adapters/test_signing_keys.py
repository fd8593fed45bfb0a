"""Signing keys in the database: sealed under the KEK, shared by replicas, rotated under a lock.

Each "replica" here is its own engine and `SigningKeyStore` on one database (SQLite file or
PostgreSQL), as two auth processes would be; time is a settable clock, never slept on.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from auth_service.adapters.key_encryption import KeyWrapper, load_key_encryption_key
from auth_service.adapters.key_ring_refresher import KeyRingRefresher
from auth_service.adapters.models import AuditRow, RevocationEventRow, SigningKeyRow
from auth_service.adapters.signing_key_store import SigningKeyStore
from auth_service.config import DEV_KEY_ENCRYPTION_KEY_FILE, Settings
from auth_service.domain.key_lifecycle import KeySchedule, RotationNotReadyError
from auth_service.domain.keys import KeyRing
from auth_service.errors import KeyEncryptionKeyError
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from tessera.storage import create_engine, create_session_factory

Row = TypeVar("Row")
SCHEDULE = KeySchedule.from_periods(
    jwks_max_age_seconds=300,
    reload_seconds=1,
    max_token_lifetime_seconds=900,
    leeway_seconds=30,
    rotation_interval_seconds=86_400,
)


class WallClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


@pytest.fixture
def kek() -> bytes:
    return secrets.token_bytes(32)


@asynccontextmanager
async def replica(
    database_url: str, kek: bytes, clock: WallClock, schedule: KeySchedule = SCHEDULE
) -> AsyncIterator[SigningKeyStore]:
    """One auth process's view of the key table: its own engine and store."""
    engine = create_engine(database_url)
    try:
        yield SigningKeyStore(
            create_session_factory(engine), KeyWrapper(kek), schedule, clock=clock
        )
    finally:
        await engine.dispose()


async def rows_of(database_url: str, model: type[Row]) -> list[Row]:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            return list((await session.execute(select(model))).scalars())
    finally:
        await engine.dispose()


async def states(database_url: str) -> dict[str, str]:
    return {row.kid: row.state for row in await rows_of(database_url, SigningKeyRow)}


async def load_ring(database_url: str, kek: bytes, clock: WallClock) -> KeyRing:
    async with replica(database_url, kek, clock) as store:
        return await store.load_key_ring()


async def test_replicas_starting_at_once_end_up_with_one_active_and_one_next_key(
    database_url: str, kek: bytes, clock: WallClock
) -> None:
    rings = await asyncio.gather(*(load_ring(database_url, kek, clock) for _ in range(3)))

    assert len({ring.signing_key.kid for ring in rings}) == 1
    assert sorted((await states(database_url)).values()) == ["active", "next"]
    # the next key is published from the start, so a first rotation needs no wait later
    assert {key.state.value for key in rings[0].published} == {"active", "next"}


async def test_a_restart_signs_with_the_stored_key(
    database_url: str, kek: bytes, clock: WallClock
) -> None:
    first = await load_ring(database_url, kek, clock)
    second = await load_ring(database_url, kek, clock)
    assert second.signing_key.kid == first.signing_key.kid
    assert second.jwks() == first.jwks()


async def test_private_keys_are_stored_sealed_and_open_only_with_the_kek(
    database_url: str, kek: bytes, clock: WallClock
) -> None:
    ring = await load_ring(database_url, kek, clock)
    rows = {row.kid: row for row in await rows_of(database_url, SigningKeyRow)}
    plain_der = ring.signing_key.private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    active_row = rows[ring.signing_key.kid]
    assert plain_der not in active_row.encrypted_private_key
    published = next(k for k in ring.jwks()["keys"] if k["kid"] == active_row.kid)
    assert active_row.public_jwk == {k: v for k, v in published.items() if k in "kty n e"}

    with pytest.raises(KeyEncryptionKeyError):
        await load_ring(database_url, secrets.token_bytes(32), clock)


async def test_rotation_waits_for_the_next_key_to_age_then_moves_every_key_one_state_on(
    database_url: str, kek: bytes, clock: WallClock
) -> None:
    async with replica(database_url, kek, clock) as store:
        ring = await store.load_key_ring()
        old = ring.signing_key.kid
        (waiting,) = [k.kid for k in ring.published if k.state.value == "next"]

        with pytest.raises(RotationNotReadyError):
            await store.rotate(expected_active=old)
        assert (await states(database_url))[old] == "active"

        clock.advance(seconds=SCHEDULE.lead.total_seconds())
        outcome = await store.rotate(expected_active=old)

    after = await states(database_url)
    assert outcome.changes.retire == old
    assert outcome.active == waiting
    assert after[old] == "retired"
    assert after[waiting] == "active"
    assert outcome.next is not None
    assert after[outcome.next] == "next"
    audit = [row for row in await rows_of(database_url, AuditRow) if row.event.startswith("sign")]
    assert [row.event for row in audit][-1] == "signing_key_rotated"
    assert audit[-1].detail == {
        "trigger": "manual",
        "activated": waiting,
        "retired": old,
        "published_next": outcome.next,
    }


async def test_replicas_rotating_at_once_make_exactly_one_rotation(
    database_url: str, kek: bytes, clock: WallClock
) -> None:
    old = (await load_ring(database_url, kek, clock)).signing_key.kid
    clock.advance(seconds=SCHEDULE.lead.total_seconds())

    async def rotate_from_its_own_replica() -> str | None:
        async with replica(database_url, kek, clock) as store:
            outcome = await store.rotate(expected_active=old)
            return outcome.changes.activate

    activated = await asyncio.gather(*(rotate_from_its_own_replica() for _ in range(4)))

    assert len([kid for kid in activated if kid is not None]) == 1
    assert sorted((await states(database_url)).values()) == ["active", "next", "retired"]
    rotations = [r for r in await rows_of(database_url, AuditRow) if r.event.endswith("rotated")]
    assert len(rotations) == 1


async def test_the_schedule_running_on_two_replicas_at_once_rotates_once_when_due(
    database_url: str, kek: bytes, clock: WallClock
) -> None:
    old = (await load_ring(database_url, kek, clock)).signing_key.kid

    async def maintain() -> bool:
        async with replica(database_url, kek, clock) as store:
            return (await store.maintain()).changes.rotates

    assert list(await asyncio.gather(maintain(), maintain())) == [False, False]  # not due yet
    clock.advance(days=1)
    assert sorted(await asyncio.gather(maintain(), maintain())) == [False, True]
    assert (await states(database_url))[old] == "retired"


async def test_a_retired_key_is_removed_only_after_every_token_it_signed_has_expired(
    database_url: str, kek: bytes, clock: WallClock
) -> None:
    async with replica(database_url, kek, clock) as store:
        old = (await store.load_key_ring()).signing_key.kid
        clock.advance(seconds=SCHEDULE.lead.total_seconds())
        await store.rotate(expected_active=old)

        clock.advance(seconds=SCHEDULE.retention.total_seconds() - 1)
        await store.maintain()
        assert (await states(database_url))[old] == "retired"

        clock.advance(seconds=1)
        await store.maintain()
        assert old not in await states(database_url)


async def test_emergency_rotation_drops_the_key_and_records_a_key_revocation_event(
    database_url: str, kek: bytes, clock: WallClock
) -> None:
    async with replica(database_url, kek, clock) as store:
        ring = await store.load_key_ring()
        compromised = ring.signing_key.kid
        outcome = await store.revoke(compromised)  # no wait at all

    after = await states(database_url)
    assert compromised not in after
    assert outcome.changes.revoke == compromised
    assert outcome.active is not None
    assert after[outcome.active] == "active"
    (event,) = await rows_of(database_url, RevocationEventRow)
    assert (event.kind, event.value) == ("key", compromised)
    # it must outlive every token a replica could still sign with the key
    assert event.expires_at == int((clock.now + SCHEDULE.last_token_expiry).timestamp())
    audit = [row.event for row in await rows_of(database_url, AuditRow)]
    assert audit[-1] == "signing_key_revoked"


async def test_a_retired_key_found_compromised_later_is_revoked_without_touching_the_active(
    database_url: str, kek: bytes, clock: WallClock
) -> None:
    async with replica(database_url, kek, clock) as store:
        old = (await store.load_key_ring()).signing_key.kid
        clock.advance(seconds=SCHEDULE.lead.total_seconds())
        rotated = await store.rotate(expected_active=old)  # the schedule got there first

        outcome = await store.revoke(old)
        again = await store.revoke(old)  # a retry changes nothing

    assert old not in await states(database_url)
    assert outcome.active == rotated.active
    assert again.changes.empty
    events = await rows_of(database_url, RevocationEventRow)
    assert [(event.kind, event.value) for event in events] == [("key", old)]


async def test_a_replica_reloads_what_another_one_rotated_and_forgets_removed_keys(
    database_url: str, kek: bytes, clock: WallClock
) -> None:
    async with (
        replica(database_url, kek, clock) as first,
        replica(database_url, kek, clock) as second,
    ):
        ring = await first.load_key_ring()
        removed: list[frozenset[str]] = []
        refresher = KeyRingRefresher(first, ring, reload_seconds=60, on_change=[removed.append])
        old = ring.signing_key.kid
        assert not await refresher.reload()  # nothing changed yet

        outcome = await second.revoke(old)

        assert await refresher.reload()
        assert ring.signing_key.kid == outcome.active
        assert await ring.get_key(old) is None
        assert removed == [frozenset({old})]


async def test_an_unknown_kid_reloads_at_most_once_per_cooldown(
    database_url: str, kek: bytes, clock: WallClock
) -> None:
    async with (
        replica(database_url, kek, clock) as first,
        replica(database_url, kek, clock) as second,
    ):
        ring = await first.load_key_ring()
        ticks = [0.0]
        refresher = KeyRingRefresher(
            first, ring, reload_seconds=60, miss_cooldown_seconds=5, clock=lambda: ticks[0]
        )
        reads = 0
        fingerprint = first.fingerprint

        async def counted() -> tuple[tuple[str, str], ...]:
            nonlocal reads
            reads += 1
            return await fingerprint()

        first.fingerprint = counted  # type: ignore[method-assign]
        for index in range(200):
            assert await refresher.get_key(f"garbage-{index}") is None
        assert reads == 1

        # a key another replica made and activated a moment ago (twice revoking: the second
        # promotes a key this ring has never seen) is found once the cooldown allows
        promoted = (await second.revoke(ring.signing_key.kid)).active
        assert promoted is not None
        activated = (await second.revoke(promoted)).active
        assert activated is not None
        assert await ring.get_key(activated) is None
        ticks[0] += 5
        assert await refresher.get_key(activated) is not None
        assert reads == 2


def test_dev_mode_generates_a_private_key_encryption_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = load_key_encryption_key(Settings())
    path = tmp_path / DEV_KEY_ENCRYPTION_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_encryption_key(Settings()) == first
    assert len(first) == 32


def test_a_configured_key_file_is_used_and_a_malformed_one_refused(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    good = tmp_path / "kek"
    good.write_text(base64.b64encode(key).decode())
    assert load_key_encryption_key(Settings(KEY_ENCRYPTION_KEY_FILE=good)) == key

    bad = tmp_path / "bad-kek"
    bad.write_text("c2hvcnQ=")
    with pytest.raises(KeyEncryptionKeyError):
        load_key_encryption_key(Settings(KEY_ENCRYPTION_KEY_FILE=bad))
