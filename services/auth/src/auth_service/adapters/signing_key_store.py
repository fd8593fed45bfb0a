"""Signing keys in the database: read them into a `KeyRing`, and change them under one lock.

Every change (first keys, rotation, emergency revocation, maintenance) is one transaction that
first takes the key lock (PostgreSQL: a transaction-scoped advisory lock; SQLite: `BEGIN
IMMEDIATE`), re-reads the keys, asks `domain.key_lifecycle` what to do and writes the answer,
its audit row and (emergency) its `key` revocation event, then `NOTIFY`s the other replicas.
So two replicas (or an operator and the schedule) rotating at once make exactly one rotation,
and the partial unique index on `state = 'active'` backs the "one active key" rule.

RSA keys take tens of milliseconds to generate: they are made before the lock is taken, from a
guess at what the transaction will need, so the lock (which on SQLite blocks every writer) is
held only for a few statements.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import Counter
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth_service.adapters.audit_log import SqlAuditLog
from auth_service.adapters.key_encryption import KeyWrapper
from auth_service.adapters.models import SigningKeyRow
from auth_service.adapters.revocation_events import record_revocation_event
from auth_service.domain.key_lifecycle import (
    KeyChanges,
    KeyRecord,
    KeySchedule,
    RotationTrigger,
    plan_first_keys,
    plan_maintenance,
    plan_revocation,
    plan_rotation,
)
from auth_service.domain.keys import (
    ALGORITHM,
    KeyRing,
    KeyState,
    PublishedKey,
    SigningKey,
    generate_signing_key,
    public_key_from_jwk,
    rsa_public_jwk,
)
from auth_service.domain.sessions import AuditEntry, Revocation
from auth_service.errors import KeyStoreError

KEYS_CHANNEL = "tessera_signing_keys"
# pg_advisory_xact_lock key serialising key changes: the ASCII of "tskeylck".
KEY_LOCK_KEY = 0x7473_6B65_796C_636B

ROTATIONS = Counter(
    "auth_signing_key_rotations_total",
    "Signing-key rotations this process made, by trigger",
    ["trigger"],
)

Planner = Callable[[Sequence[KeyRecord], datetime], KeyChanges]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _record(row: SigningKeyRow) -> KeyRecord:
    return KeyRecord(
        kid=row.kid,
        state=KeyState(row.state),
        created_at=row.created_at,
        activated_at=row.activated_at,
        retired_at=row.retired_at,
    )


KeyFingerprint = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StoredKeys:
    """The key set as stored: what a `KeyRing` is loaded with."""

    signing_key: SigningKey
    published: tuple[PublishedKey, ...]
    fingerprint: KeyFingerprint


@dataclass(frozen=True)
class KeySetOutcome:
    """What a change did, and the key set it left (for the CLI and the logs)."""

    changes: KeyChanges
    active: str | None
    next: str | None
    next_ready_at: datetime | None


class SigningKeyStore:
    """The `signing_keys` table: loading for the ring, and every lifecycle change."""

    def __init__(
        self,
        session_factory: async_sessionmaker[Any],
        wrapper: KeyWrapper,
        schedule: KeySchedule,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._session_factory = session_factory
        self._wrapper = wrapper
        self.schedule = schedule
        self._clock = clock

    # -- reading -------------------------------------------------------------------------------

    async def records(self) -> list[KeyRecord]:
        async with self._session_factory() as session:
            return [_record(row) for row in await _all_rows(session)]

    async def fingerprint(self) -> KeyFingerprint:
        """(kid, state) of every key: cheap to poll, and changes whenever the key set does."""
        async with self._session_factory() as session:
            rows = await session.execute(select(SigningKeyRow.kid, SigningKeyRow.state))
        return tuple(sorted((kid, state) for kid, state in rows))

    async def read_keys(self, current: SigningKey | None = None) -> StoredKeys:
        """Every stored key; the active private key is reused from `current` when it has not
        changed (opening and parsing it costs milliseconds)."""
        async with self._session_factory() as session:
            rows = await _all_rows(session)
        active = [row for row in rows if row.state == KeyState.ACTIVE.value]
        if not active:
            raise KeyStoreError("there is no active signing key")
        (active_row,) = active
        if current is not None and current.kid == active_row.kid:
            signing_key = current
        else:
            signing_key = self._open(active_row)
        published = tuple(
            PublishedKey(row.kid, public_key_from_jwk(row.public_jwk), KeyState(row.state))
            for row in rows
        )
        fingerprint = tuple(sorted((row.kid, row.state) for row in rows))
        return StoredKeys(signing_key, published, fingerprint)

    async def load_key_ring(self) -> KeyRing:
        """Start-up: the ring of every stored key, creating the first ones if there are none."""
        await self.ensure_first_keys()  # reads only, unless a key is missing
        stored = await self.read_keys()
        return KeyRing(stored.signing_key, stored.published)

    def _open(self, row: SigningKeyRow) -> SigningKey:
        der = self._wrapper.open(row.kid, row.encrypted_private_key)
        private_key = serialization.load_der_private_key(der, password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise KeyStoreError(f"signing key {row.kid} is not an RSA key")
        return SigningKey(kid=row.kid, private_key=private_key)

    # -- changing ------------------------------------------------------------------------------

    async def ensure_first_keys(self) -> KeySetOutcome:
        return await self._change(lambda keys, _now: plan_first_keys(keys), trigger=None)

    async def rotate(self, *, expected_active: str | None) -> KeySetOutcome:
        """Rotate away from `expected_active`; see `plan_rotation` (it may raise
        `RotationNotReadyError`)."""
        return await self._change(
            lambda keys, now: plan_rotation(
                keys, self.schedule, now=now, expected_active=expected_active
            ),
            trigger=RotationTrigger.MANUAL,
        )

    async def revoke(self, kid: str) -> KeySetOutcome:
        """Emergency: remove `kid` in whatever state, with a `key` revocation event (see
        `plan_revocation`); nothing changes if it is already gone."""
        return await self._change(
            lambda keys, _now: plan_revocation(keys, kid), trigger=RotationTrigger.EMERGENCY
        )

    async def maintain(self) -> KeySetOutcome:
        """The scheduled pass: next key, rotation when due, removal of expired retired keys."""
        return await self._change(
            lambda keys, now: plan_maintenance(keys, self.schedule, now=now),
            trigger=RotationTrigger.SCHEDULED,
        )

    async def _change(self, plan: Planner, *, trigger: RotationTrigger | None) -> KeySetOutcome:
        # Guess what the transaction will create (without the lock) and make those keys now.
        records = await self.records()
        guess = plan(records, self._clock())
        if guess.empty:  # nothing to do now; a change racing with us is the one that does it
            return _outcome(guess, records, self.schedule)
        fresh = await _generate(int(guess.create_active) + int(guess.create_next))
        async with self._session_factory() as session:
            await _lock_keys(session)
            rows = await _all_rows(session)
            self._check_key_encryption_key(rows)
            now = self._clock()
            changes = plan([_record(row) for row in rows], now)
            if changes.empty:
                return _outcome(changes, [_record(row) for row in rows], self.schedule)
            needed = int(changes.create_active) + int(changes.create_next)
            if len(fresh) < needed:  # the guess was short: another change came in between
                fresh += await _generate(needed - len(fresh))
            new_active = fresh.pop() if changes.create_active else None
            new_next = fresh.pop() if changes.create_next else None
            await self._apply(session, changes, now, new_active=new_active, new_next=new_next)
            await self._audit(session, changes, now, trigger, new_active, new_next)
            if _dialect(session) == "postgresql":
                await session.execute(text("SELECT pg_notify(:c, '')"), {"c": KEYS_CHANNEL})
            try:
                await session.commit()
            except IntegrityError as exc:
                # Only a second active key can collide, and the lock rules that out unless
                # the table was changed without it.
                raise KeyStoreError("another writer changed the signing keys") from exc
            records = [_record(row) for row in await _all_rows(session)]
        if (changes.rotates or changes.revoke) and trigger is not None:
            ROTATIONS.labels(trigger.value).inc()
        return _outcome(changes, records, self.schedule)

    def _check_key_encryption_key(self, rows: Sequence[SigningKeyRow]) -> None:
        """Refuse to add keys sealed under another KEK than the stored ones (an operator's
        `keys rotate` with the wrong KEK would leave every replica unable to sign)."""
        for row in rows[:1]:
            self._wrapper.open(row.kid, row.encrypted_private_key)  # KeyEncryptionKeyError

    async def _apply(
        self,
        session: AsyncSession,
        changes: KeyChanges,
        now: datetime,
        *,
        new_active: SigningKey | None,
        new_next: SigningKey | None,
    ) -> None:
        """The statements, in an order that never has two active keys at once."""
        doomed = [*changes.remove, *([changes.revoke] if changes.revoke else [])]
        if doomed:
            await session.execute(delete(SigningKeyRow).where(SigningKeyRow.kid.in_(doomed)))
        if changes.revoke:
            # the last token any replica could still sign with it expires by then
            expires_at = int((now + self.schedule.last_token_expiry).timestamp())
            revocation = Revocation("key", changes.revoke, expires_at, created_at=now)
            await record_revocation_event(session, revocation)
        if changes.retire:
            await session.execute(
                update(SigningKeyRow)
                .where(SigningKeyRow.kid == changes.retire)
                .values(state=KeyState.RETIRED.value, retired_at=now)
            )
        if changes.activate:
            await session.execute(
                update(SigningKeyRow)
                .where(SigningKeyRow.kid == changes.activate)
                .values(state=KeyState.ACTIVE.value, activated_at=now)
            )
        if new_active is not None:
            session.add(self._row(new_active, KeyState.ACTIVE, now))
        if new_next is not None:
            session.add(self._row(new_next, KeyState.NEXT, now))
        await session.flush()

    def _row(self, key: SigningKey, state: KeyState, now: datetime) -> SigningKeyRow:
        der = key.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return SigningKeyRow(
            kid=key.kid,
            alg=ALGORITHM,
            state=state.value,
            public_jwk=rsa_public_jwk(key.private_key.public_key()),
            encrypted_private_key=self._wrapper.seal(key.kid, der),
            created_at=now,
            activated_at=now if state == KeyState.ACTIVE else None,
        )

    @staticmethod
    async def _audit(
        session: AsyncSession,
        changes: KeyChanges,
        now: datetime,
        trigger: RotationTrigger | None,
        new_active: SigningKey | None,
        new_next: SigningKey | None,
    ) -> None:
        detail: dict[str, Any] = {
            "trigger": trigger.value if trigger is not None else "first_start",
            "activated": changes.activate or (new_active.kid if new_active else None),
            "retired": changes.retire,
            "revoked": changes.revoke,
            "published_next": new_next.kid if new_next else None,
            "removed": list(changes.remove),
        }
        if changes.revoke:
            event = "signing_key_revoked"
        elif trigger is None:
            event = "signing_keys_created"
        elif changes.rotates:
            event = "signing_key_rotated"
        else:
            event = "signing_keys_maintained"
        detail = {name: value for name, value in detail.items() if value}
        await SqlAuditLog(session).record(AuditEntry(event=event, occurred_at=now, detail=detail))


async def _all_rows(session: AsyncSession) -> list[SigningKeyRow]:
    return list((await session.execute(select(SigningKeyRow))).scalars())


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def _lock_keys(session: AsyncSession) -> None:
    """Serialise key changes across processes; must be the transaction's first statement."""
    if _dialect(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": KEY_LOCK_KEY})
    else:
        await session.execute(text("BEGIN IMMEDIATE"))


async def _generate(count: int) -> list[SigningKey]:
    return [await asyncio.to_thread(generate_signing_key) for _ in range(count)]


def _outcome(
    changes: KeyChanges, records: Sequence[KeyRecord], schedule: KeySchedule
) -> KeySetOutcome:
    by_state = {record.state: record for record in records}
    next_key = by_state.get(KeyState.NEXT)
    active = by_state.get(KeyState.ACTIVE)
    return KeySetOutcome(
        changes=changes,
        active=active.kid if active else None,
        next=next_key.kid if next_key else None,
        next_ready_at=schedule.ready_at(next_key) if next_key else None,
    )
