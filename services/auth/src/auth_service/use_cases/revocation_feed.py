"""The revocation feed (DESIGN §4) as list + watch, for the resource services' watchers.

`list` returns every event still relevant (it can still match a token someone might accept:
`expires_at` + leeway not yet passed) and a cursor; `watch` returns the events after a cursor as
soon as there are any, or none when the timeout runs out. A cursor older than what was pruned
(`pruned_through`), or newer than anything the feed ever had (the database was replaced),
raises `CursorExpiredError`: the watcher re-lists.

Wake-ups: `watch` takes the wake-up *before* it queries, so an event committed between the
query and the wait still wakes it; a bounded re-check interval covers a lost notification.

Shutdown: `close()` (called as the server starts draining) answers every open watch at once
with what it has (usually nothing), so a restart never waits out the watchers' long polls; they
re-watch, from the same cursor, wherever auth answers next.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import Counter
from tessera.background import wait_for_event

from auth_service.domain.ports import RevocationEventSource
from auth_service.domain.revocation_feed import FeedPage, FeedWakeups, encode_cursor, parse_cursor
from auth_service.errors import CursorExpiredError

WATCH_TIMEOUT_CAP_SECONDS = 60.0
WATCH_PAGE_SIZE = 1_000
EVENTS_SERVED = Counter(
    "auth_revocation_events_served_total", "Revocation events sent to watchers, by call", ["call"]
)


@dataclass
class RevocationFeed:
    """List + watch over the stored events; `prune` drops the ones no token can match."""

    source: RevocationEventSource
    wakeups: FeedWakeups
    prune_events: Callable[[float, float], Awaitable[int]]
    """Deletes the events expired before `now - leeway`: (now, leeway) -> how many."""
    leeway_seconds: float
    clock: Callable[[], float] = time.time
    recheck_seconds: float = 10.0
    monotonic: Callable[[], float] = field(default=time.monotonic, repr=False)
    closing: bool = field(default=False, init=False)

    async def list(self) -> FeedPage:
        """Every event that can still match an acceptable token, and the cursor to watch from."""
        bounds = await self.source.bounds()
        cursor = max(bounds.latest, bounds.pruned_through)
        events = await self.source.relevant_events(
            up_to=cursor, expiring_after=int(self.clock() - self.leeway_seconds)
        )
        EVENTS_SERVED.labels("list").inc(len(events))
        return FeedPage(events=events, cursor=encode_cursor(cursor))

    def close(self) -> None:
        """Answer every open watch now, and every later one without waiting (shutdown)."""
        self.closing = True
        self.wakeups.notify()

    async def watch(
        self, *, after: str, wait_seconds: float, answer_on_close: bool = True
    ) -> FeedPage:
        """Events after `after` as soon as any commit, else an empty page after `wait_seconds`
        (at most WATCH_TIMEOUT_CAP_SECONDS) or once the feed closes (unless `answer_on_close`
        is False: auth's own watcher has nowhere else to go and just waits to be stopped)."""
        position = parse_cursor(after)
        bounds = await self.source.bounds()
        if position < bounds.pruned_through or position > max(bounds.latest, bounds.pruned_through):
            raise CursorExpiredError("cursor is older than the feed's history; list again")
        deadline = self.monotonic() + min(max(wait_seconds, 0.0), WATCH_TIMEOUT_CAP_SECONDS)
        self.wakeups.watchers += 1
        try:
            while True:
                woken = self.wakeups.waiter()
                events = await self.source.events_after(position, limit=WATCH_PAGE_SIZE)
                if events:
                    EVENTS_SERVED.labels("watch").inc(len(events))
                    return FeedPage(events=events, cursor=encode_cursor(events[-1].id))
                remaining = deadline - self.monotonic()
                if remaining <= 0 or (self.closing and answer_on_close):
                    return FeedPage(events=(), cursor=after)
                await wait_for_event(woken, min(remaining, self.recheck_seconds))
        finally:
            self.wakeups.watchers -= 1

    async def prune(self) -> int:
        """Delete the events no acceptable token can match any more; how many."""
        return await self.prune_events(self.clock(), self.leeway_seconds)
