"""The revocation feed's model (DESIGN §4): events as served, pages, cursors, wake-ups.

Cursors are the last event id, as an opaque string; ids become visible in commit order (auth
takes an advisory lock around event inserts on PostgreSQL), so "id > cursor" never skips a late
commit. `FeedWakeups` is the in-process "something new may have committed" signal long-polling
watchers wait on. The list + watch use cases are `use_cases/revocation_feed.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from auth_service.errors import MalformedCursorError


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
