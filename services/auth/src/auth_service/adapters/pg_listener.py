"""One PostgreSQL connection `LISTEN`ing for the other replicas' commits, for ever.

auth replicas tell each other about two kinds of commits: revocation events (watchers must wake,
`tessera_revocations`) and signing-key changes (every replica must reload its key ring,
`tessera_signing_keys`). Both are `NOTIFY`s queued inside the committing transaction, so
PostgreSQL delivers them only if it commits. One dedicated asyncpg connection listens on every
subscribed channel; a lost connection is re-opened with back-off, and on every (re)connect each
subscriber is called once to catch up on whatever it may have missed meanwhile. A connection
that died without telling (a half-open TCP connection after a network partition) is found by a
`SELECT 1` every `probe_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import asyncpg
from prometheus_client import Gauge
from sqlalchemy.engine import make_url
from tessera.background import wait_for_event

logger = logging.getLogger(__name__)

LISTENER_CONNECT_WAIT_SECONDS = 5.0
"""How long start-up waits for LISTEN before serving anyway (polling covers the gap)."""

LISTENER_CONNECTED = Gauge(
    "auth_postgres_listener_connected", "1 while the PostgreSQL LISTEN connection is up"
)


def asyncpg_dsn(database_url: str) -> str:
    """The plain libpq DSN asyncpg wants, from a SQLAlchemy `postgresql+asyncpg://` URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PostgresListener:
    """Calls `subscribe`d callbacks when their channel is notified; reconnects for ever."""

    def __init__(
        self,
        database_url: str,
        *,
        backoff_max_seconds: float = 5.0,
        probe_seconds: float = 15.0,
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._backoff_max = backoff_max_seconds
        self._probe_seconds = probe_seconds
        self._subscribers: dict[str, list[Callable[[], None]]] = {}
        self.connected = asyncio.Event()

    def subscribe(self, channel: str, callback: Callable[[], None]) -> None:
        """Call `callback()` on every NOTIFY on `channel` (subscribe before `run`)."""
        self._subscribers.setdefault(channel, []).append(callback)

    def _notified(self, _connection: object, _pid: int, channel: str, _payload: object) -> None:
        for callback in self._subscribers.get(channel, ()):
            callback()

    def _catch_up(self) -> None:
        for callbacks in self._subscribers.values():
            for callback in callbacks:
                callback()

    async def run(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._listen_until_lost()
                logger.warning("PostgreSQL listener connection lost; reconnecting")
                delay = 0.1
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                logger.warning(
                    "PostgreSQL listener cannot listen; retrying",
                    extra={"error": type(exc).__name__, "retry_in_seconds": delay},
                )
                delay = min(delay * 2, self._backoff_max)
            await asyncio.sleep(delay)

    async def _listen_until_lost(self) -> None:
        """Connect, LISTEN on every channel, catch up, then return when the connection dies."""
        lost = asyncio.Event()
        connection = await asyncpg.connect(self._dsn, timeout=5)
        try:
            connection.add_termination_listener(lambda _: lost.set())
            for channel in self._subscribers:
                await connection.add_listener(channel, self._notified)
            self.connected.set()
            LISTENER_CONNECTED.set(1)
            self._catch_up()  # anything committed while we were not listening
            while not lost.is_set():
                if not await wait_for_event(lost, self._probe_seconds):
                    await connection.fetchval("SELECT 1", timeout=5)  # raises on a dead link
        finally:
            self.connected.clear()
            LISTENER_CONNECTED.set(0)
            with contextlib.suppress(Exception):
                await asyncio.shield(connection.close(timeout=2))


@contextlib.asynccontextmanager
async def listening(listener: PostgresListener | None) -> AsyncIterator[None]:
    """Run the LISTEN connection (PostgreSQL only) while the block runs."""
    if listener is None:
        yield
        return
    task = asyncio.create_task(listener.run(), name="postgres-listen")
    try:
        # serve anyway after the wait; polling covers the gap
        await wait_for_event(listener.connected, LISTENER_CONNECT_WAIT_SECONDS)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
