"""BackgroundTask: one named asyncio task that a long-lived component runs while it is started.

Every such component (the JWKS refresher, the revocation watcher, auth's key-ring refresher and
maintenance loop) starts its loop with `start()` and ends it with `stop()`, which cancels the
task and waits for it, so nothing outlives the service's lifespan and a shutdown never waits
for a loop to notice by itself.

Example::

    self._loop = BackgroundTask("jwks-refresh", self._refresh_forever)
    self._loop.start()      # idempotent
    ...
    await self._loop.stop()  # idempotent; returns once the task has finished
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class BackgroundTask:
    """Runs `run()` in a task between `start()` and `stop()`."""

    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the task was started and has not finished."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the task unless it is already running."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait until it has finished (whatever it raised)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:  # the loop had died on its own; say so once, then it is gone
            logger.exception("Background task failed", extra={"task": self.name})
