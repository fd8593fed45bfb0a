"""The mail outbox in SQL: written in a use case's transaction, worked off by `MailWorker`.

Every entry is sealed (`tessera.sealing`, a key derived from the key-encryption key, the row id
as associated data): a mail's body carries a live link until it is used, and a request carries
an address. Once sent, expired or dropped, the sealed part is wiped; only the kind, status and
times stay, for operators.

Several replicas may work the same outbox: a worker claims an entry by moving its
`next_attempt_at` forward with a conditional UPDATE (`claim`), so each attempt is made by one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tessera.sealing import Sealer

from auth_service.adapters.models import MailOutboxRow
from auth_service.domain.mail import Mail, MailKind, MailRequestKind, OutboxEntry

_INFO = b"tessera/auth/mail-outbox/v1"
CLAIM_SECONDS = 60
"""How long a claimed entry is left to its worker before another may try it: far longer than
one send may take (`smtp_sender.SEND_TIMEOUT_SECONDS`), and the worker claims one at a time."""


class OutboxSealer:
    """Seals outbox entries under a key derived from the key-encryption key."""

    def __init__(self, key_encryption_key: bytes) -> None:
        self._sealer = Sealer(key_encryption_key, info=_INFO)

    def seal(self, entry: OutboxEntry) -> bytes:
        content: dict[str, Any]
        if entry.mail is not None:
            mail = entry.mail
            content = {"to": mail.to, "subject": mail.subject, "text": mail.text, "html": mail.html}
        else:
            content = {"address": entry.address}
        return self._sealer.seal(json.dumps(content).encode("utf-8"), associated=str(entry.id))

    def open(self, row: MailOutboxRow) -> OutboxEntry | None:
        """The entry, or None when it cannot be opened (a key-encryption key that changed)."""
        if row.sealed is None:
            return None
        plain = self._sealer.open(row.sealed, associated=str(row.id))
        if plain is None:
            return None
        content = json.loads(plain)
        kind = _kind(row.kind)
        mail = Mail(**content) if "to" in content else None
        return OutboxEntry(
            id=row.id,
            kind=kind,
            created_at=row.created_at,
            mail=mail,
            address=content.get("address"),
            expires_at=row.expires_at,
        )


def _kind(value: str) -> MailKind | MailRequestKind:
    return MailRequestKind(value) if value.endswith("_request") else MailKind(value)


class OutboxEntryTakenError(Exception):
    """An entry this worker held was finished by another replica meanwhile."""


class SqlMailOutbox:
    """The outbox as a use case's unit of work sees it: add entries to its transaction."""

    def __init__(self, session: AsyncSession, sealer: OutboxSealer | None) -> None:
        self._session = session
        self._sealer = sealer
        self.added = 0

    async def add(self, entry: OutboxEntry) -> None:
        if self._sealer is None:
            raise RuntimeError("the outbox has no sealer: the key-encryption key is not loaded")
        self._session.add(
            MailOutboxRow(
                id=entry.id,
                kind=entry.kind.value,
                status="pending",
                sealed=self._sealer.seal(entry),
                created_at=entry.created_at,
                expires_at=entry.expires_at,
                attempts=0,
                next_attempt_at=entry.created_at,
            )
        )
        self.added += 1

    async def close_request(self, entry_id: uuid.UUID, *, resolved: bool) -> None:
        """A request turned into a mail (`resolved`) or into nothing (`dropped`), in this
        transaction: a crash before commit leaves the request to be resolved again, once.
        `OutboxEntryTakenError` (the caller rolls back) if it is no longer pending: another
        replica resolved it after this one's claim ran out."""
        result = await self._session.execute(
            update(MailOutboxRow)
            .where(MailOutboxRow.id == entry_id, MailOutboxRow.status == "pending")
            .values(status="resolved" if resolved else "dropped", sealed=None)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise OutboxEntryTakenError(str(entry_id))


@dataclass(frozen=True)
class ClaimedEntry:
    """An entry this worker may attempt now; `entry` is None if it cannot be opened."""

    id: uuid.UUID
    attempts: int
    entry: OutboxEntry | None


class MailQueue:
    """The worker's side of the outbox: claim due entries, record how each attempt went."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], sealer: OutboxSealer) -> None:
        self._sessions = sessions
        self._sealer = sealer

    async def claim_due(self, now: datetime, *, limit: int) -> list[ClaimedEntry]:
        query = (
            select(MailOutboxRow)
            .where(MailOutboxRow.status == "pending", MailOutboxRow.next_attempt_at <= now)
            .order_by(MailOutboxRow.next_attempt_at, MailOutboxRow.id)
            .limit(limit)
        )
        claimed = []
        async with self._sessions.begin() as session:
            rows: Sequence[MailOutboxRow] = (await session.scalars(query)).all()
            for row in rows:
                result = await session.execute(
                    update(MailOutboxRow)
                    .where(
                        MailOutboxRow.id == row.id,
                        MailOutboxRow.status == "pending",
                        MailOutboxRow.next_attempt_at == row.next_attempt_at,
                    )
                    .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 0) == 1:
                    claimed.append(ClaimedEntry(row.id, row.attempts, self._sealer.open(row)))
        return claimed

    async def finish(self, entry_id: uuid.UUID, *, status: str, now: datetime) -> None:
        """`sent`, `expired`, `dropped` or `failed`: wipe the sealed part, keep the record."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(MailOutboxRow)
                .where(MailOutboxRow.id == entry_id, MailOutboxRow.status == "pending")
                .values(
                    status=status,
                    sealed=None,
                    sent_at=now if status == "sent" else None,
                )
                .execution_options(synchronize_session=False)
            )

    async def retry_later(
        self, entry_id: uuid.UUID, *, attempts: int, at: datetime, error: str
    ) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(MailOutboxRow)
                .where(MailOutboxRow.id == entry_id, MailOutboxRow.status == "pending")
                .values(attempts=attempts, next_attempt_at=at, last_error=error[:200])
                .execution_options(synchronize_session=False)
            )

    async def pending(self) -> int:
        query = select(func.count()).where(MailOutboxRow.status == "pending")
        async with self._sessions() as session:
            return int((await session.execute(query)).scalar_one())
