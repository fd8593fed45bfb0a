"""The `revocation_events` outbox (DESIGN §4) and the one way to write to it.

Every revocation writes an event **in the transaction that revokes** with
`record_revocation_event(session, ...)`. On PostgreSQL it first takes a transaction-scoped
advisory lock, so event ids become visible in commit order (a watcher resuming from "id > cursor"
can never skip a late commit), and it queues a `NOTIFY` on `REVOCATION_CHANNEL` that PostgreSQL
delivers to every auth replica's listener when (and only if) the transaction commits. On any
backend it marks the session, and after the commit the in-process feed of that engine is woken
(`wake_on_commit`; the only wake-up SQLite has).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import BigInteger, Integer, String, event, insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from auth_service.adapters.models import Base, UtcDateTime

RevocationKind = Literal["session", "user", "token", "key"]
REVOCATION_CHANNEL = "tessera_revocations"
# pg_advisory_xact_lock key serialising event inserts: the ASCII of "tsrvcevt".
REVOCATION_LOCK_KEY = 0x7473_7276_6365_7674
_WRITTEN = "tessera.revocation_event_written"
_wake_callbacks: weakref.WeakKeyDictionary[Engine, Callable[[], None]] = weakref.WeakKeyDictionary()


class RevocationEventRow(Base):
    __tablename__ = "revocation_events"
    # AUTOINCREMENT: SQLite must never reuse the id of a pruned event (cursors would go back)
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(255))
    min_ver: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # unix seconds: when the last token this event can match expires
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RevocationFeedStateRow(Base):
    """Feed bookkeeping; `pruned_through` = the highest event id pruning has deleted."""

    __tablename__ = "revocation_feed_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


async def record_revocation_event(
    session: AsyncSession,
    *,
    kind: RevocationKind,
    value: str,
    expires_at: int,
    created_at: datetime,
    min_ver: int | None = None,
) -> None:
    """Add one event to the caller's transaction; it is served once that transaction commits."""
    if (kind == "user") != (min_ver is not None):
        raise ValueError("min_ver is required for user events and only for them")
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    if postgres:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": REVOCATION_LOCK_KEY}
        )
    await session.execute(
        insert(RevocationEventRow).values(
            kind=kind, value=value, min_ver=min_ver, expires_at=expires_at, created_at=created_at
        )
    )
    if postgres:
        await session.execute(
            text("SELECT pg_notify(:channel, '')"), {"channel": REVOCATION_CHANNEL}
        )
    session.info[_WRITTEN] = True


def wake_on_commit(engine: AsyncEngine, wake: Callable[[], None]) -> None:
    """Call `wake()` after every commit on `engine` that wrote a revocation event."""
    _wake_callbacks[engine.sync_engine] = wake


def stop_waking(engine: AsyncEngine) -> None:
    _wake_callbacks.pop(engine.sync_engine, None)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WRITTEN, False):
        bind: Any = session.bind
        wake = _wake_callbacks.get(bind) if isinstance(bind, Engine) else None
        if wake is not None:
            wake()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
