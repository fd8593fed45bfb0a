"""The `revocation_events` outbox (DESIGN §4): the one way to write to it, the feed's reads,
its pruning, and its wake-ups.

Every revocation writes an event **in the transaction that revokes** with
`record_revocation_event(session, ...)`. On PostgreSQL it first takes a transaction-scoped
advisory lock, so event ids become visible in commit order (a watcher resuming from "id > cursor"
can never skip a late commit), and it queues a `NOTIFY` on `REVOCATION_CHANNEL` that PostgreSQL
delivers to every auth replica's listener when (and only if) the transaction commits. On any
backend it marks the session, and after the commit the in-process feed of that engine is woken
(`wake_on_commit`; the only wake-up SQLite has).

`RevocationFeed` is the long-lived part the feed's use cases read from: the SQL event source,
the in-process `FeedWakeups` (woken after local commits that wrote an event and, on PostgreSQL,
on the revocation channel of the process's `PostgresListener`, so a commit on any replica wakes
the watchers of all), and `prune`, which the maintenance loop calls.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge
from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from auth_service.adapters.models import RevocationEventRow, RevocationFeedStateRow
from auth_service.adapters.pg_listener import PostgresListener
from auth_service.domain.revocation_feed import FeedBounds, FeedEvent, FeedWakeups
from auth_service.domain.sessions import Revocation

if TYPE_CHECKING:
    from auth_service.adapters.storage import Storage

logger = logging.getLogger(__name__)

REVOCATION_CHANNEL = "tessera_revocations"
# pg_advisory_xact_lock key serialising event inserts: the ASCII of "tsrvcevt".
REVOCATION_LOCK_KEY = 0x7473_7276_6365_7674
_WRITTEN = "tessera.revocation_event_written"
PRUNED_THROUGH = "pruned_through"
WATCHERS = Gauge("auth_revocation_watchers", "Long-polling revocation watchers right now")
EVENTS_PRUNED = Counter("auth_revocation_events_pruned_total", "Revocation events pruned")
_wake_callbacks: weakref.WeakKeyDictionary[Engine, Callable[[], None]] = weakref.WeakKeyDictionary()


async def record_revocation_event(session: AsyncSession, revocation: Revocation) -> None:
    """Add one event to the caller's transaction; it is served once that transaction commits."""
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    if postgres:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": REVOCATION_LOCK_KEY}
        )
    await session.execute(insert(RevocationEventRow).values(**vars(revocation)))
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


def _event(row: RevocationEventRow) -> FeedEvent:
    return FeedEvent(
        id=row.id, kind=row.kind, value=row.value, expires_at=row.expires_at, min_ver=row.min_ver
    )


class SqlRevocationEventSource:
    """`RevocationEventSource` over the `revocation_events` table."""

    def __init__(self, session_factory: async_sessionmaker[Any]) -> None:
        self._session_factory = session_factory

    async def bounds(self) -> FeedBounds:
        latest = select(func.max(RevocationEventRow.id)).scalar_subquery()
        pruned = (
            select(RevocationFeedStateRow.value)
            .where(RevocationFeedStateRow.name == PRUNED_THROUGH)
            .scalar_subquery()
        )
        async with self._session_factory() as session:
            row = (await session.execute(select(latest, pruned))).one()
        return FeedBounds(pruned_through=row[1] or 0, latest=row[0] or 0)

    async def relevant_events(self, *, up_to: int, expiring_after: int) -> Sequence[FeedEvent]:
        query = (
            select(RevocationEventRow)
            .where(RevocationEventRow.id <= up_to)
            .where(RevocationEventRow.expires_at >= expiring_after)
            .order_by(RevocationEventRow.id)
        )
        async with self._session_factory() as session:
            return [_event(row) for row in await session.scalars(query)]

    async def events_after(self, after: int, *, limit: int) -> Sequence[FeedEvent]:
        query = (
            select(RevocationEventRow)
            .where(RevocationEventRow.id > after)
            .order_by(RevocationEventRow.id)
            .limit(limit)
        )
        async with self._session_factory() as session:
            return [_event(row) for row in await session.scalars(query)]


async def prune_revocation_events(
    session_factory: async_sessionmaker[Any], *, now: float, leeway: float
) -> int:
    """Delete events no acceptable token can match any more; raise the watermark. Returns count.

    Watchers whose cursor is below the new watermark get 410 and re-list.
    """
    cutoff = int(now - leeway)
    async with session_factory() as session, session.begin():
        doomed_through = await session.scalar(
            select(func.max(RevocationEventRow.id)).where(RevocationEventRow.expires_at < cutoff)
        )
        if doomed_through is None:
            return 0
        result = await session.execute(
            delete(RevocationEventRow)
            .where(RevocationEventRow.expires_at < cutoff)
            .where(RevocationEventRow.id <= doomed_through)
        )
        await session.execute(
            update(RevocationFeedStateRow)
            .where(RevocationFeedStateRow.name == PRUNED_THROUGH)
            .where(RevocationFeedStateRow.value < doomed_through)
            .values(value=doomed_through)
        )
    count = int(result.rowcount)
    EVENTS_PRUNED.inc(count)
    return count


class RevocationEventStore:
    """The feed's storage in one auth process: the event source, its wake-ups, pruning."""

    def __init__(self, storage: Storage, *, listener: PostgresListener | None = None) -> None:
        self.source = SqlRevocationEventSource(storage.session_factory)
        self.wakeups = FeedWakeups()
        self._storage = storage
        if listener is not None:
            listener.subscribe(REVOCATION_CHANNEL, self.wakeups.notify)

    async def prune(self, now: float, leeway: float) -> int:
        """Delete the events no acceptable token can match any more; how many."""
        pruned = await prune_revocation_events(
            self._storage.session_factory, now=now, leeway=leeway
        )
        if pruned:
            logger.info("Pruned revocation events", extra={"pruned": pruned})
        return pruned

    def start(self) -> None:
        wake_on_commit(self._storage.engine, self.wakeups.notify)
        WATCHERS.set_function(lambda: self.wakeups.watchers)

    def stop(self) -> None:
        stop_waking(self._storage.engine)
        self.wakeups.notify()  # let long-polls re-check and finish instead of hanging shutdown
