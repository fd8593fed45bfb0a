"""The revocation feed's storage and wake-ups: SQL queries, pruning, PostgreSQL LISTEN.

`RevocationFeed` is the long-lived part the API uses: it owns the in-process `FeedWakeups`,
registers them to be woken after local commits that wrote an event, and on PostgreSQL keeps one
dedicated asyncpg connection `LISTEN`ing on the revocation channel, so a commit on any replica
wakes the watchers of all. A lost listener connection is re-opened with back-off, and on every
(re)connect the watchers are woken once to catch up on what they may have missed meanwhile.
It also prunes events that can no longer match an acceptable token, every
`REVOCATION_PRUNE_INTERVAL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from prometheus_client import Counter, Gauge
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

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
LISTENER_CONNECTED = Gauge(
    "auth_revocation_listener_connected", "1 while the PostgreSQL LISTEN connection is up"
)
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


def asyncpg_dsn(database_url: str) -> str:
    """The plain libpq DSN asyncpg wants, from a SQLAlchemy `postgresql+asyncpg://` URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PostgresListener:
    """One dedicated connection `LISTEN`ing on the revocation channel; reconnects for ever."""

    def __init__(
        self,
        database_url: str,
        on_notify: Callable[[], None],
        *,
        backoff_max_seconds: float = 5.0,
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._on_notify = on_notify
        self._backoff_max = backoff_max_seconds
        self.connected = asyncio.Event()

    def _notified(self, *_: object) -> None:
        self._on_notify()

    async def run(self) -> None:
        delay = 0.1
        while True:
            lost = asyncio.Event()
            try:
                connection = await asyncpg.connect(self._dsn, timeout=5)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                logger.warning(
                    "Revocation listener cannot connect; retrying",
                    extra={"error": type(exc).__name__, "retry_in_seconds": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
                continue
            try:
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                await connection.add_listener(REVOCATION_CHANNEL, self._notified)
                delay = 0.1
                self.connected.set()
                LISTENER_CONNECTED.set(1)
                self._on_notify()  # catch up on anything committed while we were not listening
                await lost.wait()
                logger.warning("Revocation listener connection lost; reconnecting")
            finally:
                self.connected.clear()
                LISTENER_CONNECTED.set(0)
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=2))


class RevocationFeed:
    """Source, wake-ups, listener and pruning of one auth process's feed."""

    def __init__(
        self,
        storage: Storage,
        database_url: str,
        *,
        leeway_seconds: float,
        prune_interval_seconds: float,
        clock: Callable[[], float] = time.time,
        recheck_seconds: float = 10.0,
    ) -> None:
        self.source = SqlRevocationEventSource(storage.session_factory)
        self.wakeups = FeedWakeups()
        self.recheck_seconds = recheck_seconds
        self._storage = storage
        self.leeway_seconds = leeway_seconds
        self._prune_interval = prune_interval_seconds
        self.clock = clock
        postgres = storage.engine.dialect.name == "postgresql"
        self.listener = PostgresListener(database_url, self.wakeups.notify) if postgres else None
        self._tasks: list[asyncio.Task[None]] = []

    async def prune(self) -> int:
        """Prune now (the maintenance loop may call this too)."""
        return await prune_revocation_events(
            self._storage.session_factory, now=self.clock(), leeway=self.leeway_seconds
        )

    async def _prune_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._prune_interval)
            try:
                pruned = await self.prune()
            except Exception:  # a failed prune is retried next interval, never fatal
                logger.exception("Pruning revocation events failed")
            else:
                if pruned:
                    logger.info("Pruned revocation events", extra={"pruned": pruned})

    async def start(self) -> None:
        wake_on_commit(self._storage.engine, self.wakeups.notify)
        WATCHERS.set_function(lambda: self.wakeups.watchers)
        self._tasks.append(asyncio.create_task(self._prune_periodically(), name="revocation-prune"))
        if self.listener is not None:
            self._tasks.append(asyncio.create_task(self.listener.run(), name="revocation-listen"))
            with contextlib.suppress(TimeoutError):  # serve anyway; re-checks cover the gap
                await asyncio.wait_for(self.listener.connected.wait(), 5)

    async def aclose(self) -> None:
        stop_waking(self._storage.engine)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.wakeups.notify()  # let long-polls re-check and finish instead of hanging shutdown
