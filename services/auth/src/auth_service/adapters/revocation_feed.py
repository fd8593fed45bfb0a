"""The revocation feed's storage and wake-ups: SQL queries, pruning, PostgreSQL LISTEN.

`RevocationFeed` is the long-lived part the API uses: it owns the in-process `FeedWakeups`,
registers them to be woken after local commits that wrote an event, and on PostgreSQL subscribes
them to the revocation channel of the process's `PostgresListener`, so a commit on any replica
wakes the watchers of all (the listener wakes them once more after every reconnect, to catch up).
`prune` deletes events that can no longer match an acceptable token; the maintenance loop calls
it (`adapters/maintenance.py`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from auth_service.adapters.pg_listener import PostgresListener
from auth_service.adapters.revocation_events import (
    REVOCATION_CHANNEL,
    RevocationEventRow,
    RevocationFeedStateRow,
    stop_waking,
    wake_on_commit,
)
from auth_service.bootstrap import Storage
from auth_service.domain.revocation_feed import FeedBounds, FeedEvent, FeedWakeups

logger = logging.getLogger(__name__)

PRUNED_THROUGH = "pruned_through"
EVENTS_SERVED = Counter(
    "auth_revocation_events_served_total", "Revocation events sent to watchers, by call", ["call"]
)
WATCHERS = Gauge("auth_revocation_watchers", "Long-polling revocation watchers right now")
EVENTS_PRUNED = Counter("auth_revocation_events_pruned_total", "Revocation events pruned")


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


class RevocationFeed:
    """Source, wake-ups and pruning of one auth process's feed."""

    def __init__(
        self,
        storage: Storage,
        *,
        leeway_seconds: float,
        listener: PostgresListener | None = None,
        clock: Callable[[], float] = time.time,
        recheck_seconds: float = 10.0,
    ) -> None:
        self.source = SqlRevocationEventSource(storage.session_factory)
        self.wakeups = FeedWakeups()
        self.recheck_seconds = recheck_seconds
        self._storage = storage
        self.leeway_seconds = leeway_seconds
        self.clock = clock
        self.listener = listener
        if listener is not None:
            listener.subscribe(REVOCATION_CHANNEL, self.wakeups.notify)

    async def prune(self) -> int:
        """Delete the events no acceptable token can match any more; how many."""
        pruned = await prune_revocation_events(
            self._storage.session_factory, now=self.clock(), leeway=self.leeway_seconds
        )
        if pruned:
            logger.info("Pruned revocation events", extra={"pruned": pruned})
        return pruned

    async def start(self) -> None:
        wake_on_commit(self._storage.engine, self.wakeups.notify)
        WATCHERS.set_function(lambda: self.wakeups.watchers)

    async def aclose(self) -> None:
        stop_waking(self._storage.engine)
        self.wakeups.notify()  # let long-polls re-check and finish instead of hanging shutdown
