"""The revocation feed (DESIGN §4) as list + watch, over an event source and a wake-up signal.

`list_events` returns every event still relevant (it can still match a token someone might
accept: `expires_at` + leeway not yet passed) and a cursor; `watch_events` returns the events
after a cursor as soon as there are any, or none when the timeout runs out. Cursors are the last
event id, as an opaque string; ids become visible in commit order (auth takes an advisory lock
around event inserts on PostgreSQL), so "id > cursor" never skips a late commit.

A cursor older than what was pruned (`pruned_through`), or newer than anything the feed ever
had (the database was replaced), raises `CursorExpiredError`: the watcher re-lists.

Wake-ups: `watch_events` takes the wake-up *before* it queries, so an event committed between
the query and the wait still wakes it; a bounded re-check interval covers a lost notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

WATCH_TIMEOUT_CAP_SECONDS = 60.0
WATCH_PAGE_SIZE = 1_000


class CursorExpiredError(Exception):
    """Raised when a cursor can no longer be resumed from (pruned past it, or unknown)."""


class MalformedCursorError(ValueError):
    """Raised for a cursor that this feed never issued."""


@dataclass(frozen=True)
class FeedEvent:
    """One revocation event as served: what is revoked and until when it matters."""

    id: int
    kind: str
    value: str
    expires_at: int
    min_ver: int | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id),
            "kind": self.kind,
            "value": self.value,
            "expires_at": self.expires_at,
        }
        if self.min_ver is not None:
            body["min_ver"] = self.min_ver
        return body


@dataclass(frozen=True)
class FeedPage:
    events: Sequence[FeedEvent]
    cursor: str

    def as_json(self) -> dict[str, Any]:
        return {"events": [event.as_json() for event in self.events], "cursor": self.cursor}


@dataclass(frozen=True)
class FeedBounds:
    """What the feed can resume from: ids <= pruned_through are gone; latest is the newest id."""

    pruned_through: int
    latest: int


class RevocationEventSource(Protocol):
    async def bounds(self) -> FeedBounds: ...

    async def relevant_events(self, *, up_to: int, expiring_after: int) -> Sequence[FeedEvent]:
        """Events with id <= up_to and expires_at >= expiring_after, in id order."""
        ...

    async def events_after(self, after: int, *, limit: int) -> Sequence[FeedEvent]:
        """Events with id > after, in id order, at most `limit`."""
        ...


class FeedWakeups:
    """An in-process "something new may have committed" signal for long-polling watchers."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.watchers = 0

    def waiter(self) -> asyncio.Event:
        """The signal to wait on; take it before querying so no wake-up falls in between."""
        return self._event

    def notify(self) -> None:
        """Wake every current waiter (later waiters get a fresh signal)."""
        event, self._event = self._event, asyncio.Event()
        event.set()


def encode_cursor(event_id: int) -> str:
    return str(event_id)


def parse_cursor(cursor: str) -> int:
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 19:
        raise MalformedCursorError("cursor is not one this feed issued")
    return int(cursor)


async def list_events(source: RevocationEventSource, *, now: float, leeway: float) -> FeedPage:
    """Every event that can still match an acceptable token, and the cursor to watch from."""
    bounds = await source.bounds()
    cursor = max(bounds.latest, bounds.pruned_through)
    events = await source.relevant_events(up_to=cursor, expiring_after=int(now - leeway))
    return FeedPage(events=events, cursor=encode_cursor(cursor))


async def watch_events(
    source: RevocationEventSource,
    wakeups: FeedWakeups,
    *,
    after: str,
    wait_seconds: float,
    recheck_seconds: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
) -> FeedPage:
    """Events after `after` as soon as any commit, else an empty page after `wait_seconds`.

    `wait_seconds` is capped at WATCH_TIMEOUT_CAP_SECONDS.
    """
    position = parse_cursor(after)
    bounds = await source.bounds()
    if position < bounds.pruned_through or position > max(bounds.latest, bounds.pruned_through):
        raise CursorExpiredError("cursor is older than the feed's history; list again")
    deadline = clock() + min(max(wait_seconds, 0.0), WATCH_TIMEOUT_CAP_SECONDS)
    wakeups.watchers += 1
    try:
        while True:
            woken = wakeups.waiter()
            events = await source.events_after(position, limit=WATCH_PAGE_SIZE)
            if events:
                return FeedPage(events=events, cursor=encode_cursor(events[-1].id))
            remaining = deadline - clock()
            if remaining <= 0:
                return FeedPage(events=(), cursor=after)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), min(remaining, recheck_seconds))
    finally:
        wakeups.watchers -= 1
