"""BackgroundTask and wait_for_event: a loop that waits for wake-ups always stops when told."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from tessera.background import BackgroundTask, TaskSet, wait_for_event


async def test_wait_for_event_says_whether_the_event_came_or_the_time_ran_out() -> None:
    event = asyncio.Event()

    assert await wait_for_event(event, 0.01) is False
    event.set()
    assert await wait_for_event(event, 10) is True


async def test_a_loop_woken_at_the_moment_it_is_stopped_still_stops() -> None:
    # CPython gh-86296: on 3.11 `asyncio.wait_for(event.wait(), t)` returns normally when the
    # event is set and the task cancelled in the same loop iteration; a loop around it then ran
    # on, and auth's shutdown waited for ever on its in-process revocation watcher.
    event = asyncio.Event()
    rounds = 0

    async def wake_up_loop() -> None:
        nonlocal rounds
        while True:
            await wait_for_event(event, 30)
            event.clear()
            rounds += 1

    task = BackgroundTask("wake-up-loop", wake_up_loop)
    task.start()
    await asyncio.sleep(0)  # the loop is waiting now
    event.set()  # the wake-up and the stop land in the same iteration
    async with asyncio.timeout(5):
        await task.stop()

    assert not task.running
    assert rounds <= 1


async def test_stopping_a_task_that_died_on_its_own_logs_it_once_and_returns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug")

    task = BackgroundTask("broken-loop", broken)
    task.start()
    await asyncio.sleep(0)
    await task.stop()
    await task.stop()

    assert [record.getMessage() for record in caplog.records] == ["Background task failed"]


async def test_a_loop_whose_library_swallows_the_cancellation_is_cancelled_again() -> None:
    # what `asyncio.wait_for` inside aiosmtplib or a database driver does on 3.11 (gh-86296)
    # when the cancellation lands as its inner wait completes: the loop runs on
    swallowed = 0

    async def loop_over_a_leaky_library() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1

    task = BackgroundTask("leaky-loop", loop_over_a_leaky_library)
    task.start()
    await asyncio.sleep(0.02)
    async with asyncio.timeout(10):
        await task.stop()

    assert not task.running
    assert swallowed == 1


async def test_closing_a_task_set_cancels_a_job_that_swallowed_its_first_cancellation() -> None:
    jobs = TaskSet("leaky-jobs")
    finished = asyncio.Event()

    async def leaky_job() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # swallowed once
            await asyncio.sleep(30)
        try:
            await asyncio.sleep(30)
        finally:
            finished.set()

    jobs.spawn(leaky_job())
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await jobs.aclose()

    assert finished.is_set()
