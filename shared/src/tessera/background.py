"""BackgroundTask: one named asyncio task that a long-lived component runs while it is started;
`TaskSet`: short follow-up jobs a component starts and must not outlive; `wait_for_event`: the
one way those loops wait for a wake-up or a timeout.

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
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)


async def wait_for_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` have passed; whether it is set.

    Not `asyncio.wait_for(event.wait(), seconds)`: on Python 3.11 that swallows a cancellation
    arriving just as the event is set (CPython gh-86296), and a loop around it then runs on, so
    `BackgroundTask.stop()` (or a server's shutdown) waits for ever. `asyncio.timeout` tells its
    own cancellation from the caller's.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(seconds, 0.0)):
            await event.wait()
    return event.is_set()


async def cancel_and_wait(tasks: set[asyncio.Task[None]]) -> None:
    """Cancel `tasks` and wait until every one has finished, cancelling again while one runs on.

    Once is not always enough on Python 3.11: a library that waits with `asyncio.wait_for`
    (aiosmtplib, database drivers) can swallow a cancellation that arrives just as what it
    waited for completes (CPython gh-86296), and the loop around it then runs on for ever.
    Not `await task`: the caller's own cancellation must propagate.
    """
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=CANCEL_RETRY_SECONDS)


CANCEL_RETRY_SECONDS = 0.5


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
        await cancel_and_wait({task})
        if not task.cancelled() and task.exception() is not None:
            # the loop had died on its own; say so once, then it is gone
            logger.error(
                "Background task failed", exc_info=task.exception(), extra={"task": self.name}
            )


class TaskSet:
    """Follow-up jobs started from a request that must finish after it (e.g. completing an
    idempotency key once the database is back), owned by the component that starts them.

    `spawn` keeps a reference (asyncio keeps only weak ones, so an unowned task can vanish
    mid-run); a job that fails is logged once; `aclose` cancels what still runs and waits.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, job: Coroutine[Any, Any, None]) -> None:
        """Run `job` in its own task."""
        task = asyncio.create_task(job, name=self.name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "Background job failed", exc_info=task.exception(), extra={"job": self.name}
            )

    async def aclose(self) -> None:
        """Cancel every job still running and wait until each has finished."""
        await cancel_and_wait(set(self._tasks))
