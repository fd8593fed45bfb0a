"""auth's one maintenance loop (DESIGN §8), run by one replica at a time.

Every `MAINTENANCE_INTERVAL_SECONDS` each replica tries to become this round's runner: on
PostgreSQL with `pg_try_advisory_lock` on a connection held for the round (the loser skips the
round; a crashed runner's lock dies with its connection), on SQLite always (one process). The
runner then does each chore, and a chore that fails is logged and retried next round:

- signing keys: keep a `next` key, rotate on schedule, remove retired keys past retention;
- revocation events: prune those no acceptable token can match;
- refresh tokens: clear sealed successors whose grace window has passed (the window itself is
  enforced by timestamps at refresh; this only stops keeping ciphertext nobody may open).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from tessera.background import BackgroundTask
from tessera.storage import elected

logger = logging.getLogger(__name__)

# pg_try_advisory_lock key electing the round's runner: the ASCII of "tsmaintn".
MAINTENANCE_LOCK_KEY = 0x7473_6D61_696E_746E


@dataclass(frozen=True)
class Chore:
    """One named job of a maintenance round; returns something worth logging, or None."""

    name: str
    run: Callable[[], Awaitable[object]]


class MaintenanceLoop:
    """Runs `chores` every `interval_seconds` on the elected replica."""

    def __init__(
        self, engine: AsyncEngine, chores: Sequence[Chore], *, interval_seconds: float
    ) -> None:
        self._engine = engine
        self._chores = tuple(chores)
        self._interval = interval_seconds
        self._loop = BackgroundTask("auth-maintenance", self._run)

    async def run_once(self) -> bool:
        """One round; False when another replica is running it."""
        async with elected(self._engine, MAINTENANCE_LOCK_KEY) as won:
            if not won:
                return False
            for chore in self._chores:
                try:
                    result = await chore.run()
                except Exception:  # one failing chore must not starve the others
                    logger.exception("Maintenance chore failed", extra={"chore": chore.name})
                else:
                    if result:
                        logger.info(
                            "Maintenance chore done", extra={"chore": chore.name, "result": result}
                        )
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception:  # the database is away: the next round tries again
                logger.warning("Maintenance round failed", exc_info=True)

    def start(self) -> None:
        self._loop.start()

    async def aclose(self) -> None:
        await self._loop.stop()
