"""auth's own revocations, read in process: the feed its watcher follows, and the event a
local commit applies at once. auth's verifier consults the same `RevocationIndex` as every
resource service's, fed the same way, minus the HTTP hop."""

from __future__ import annotations

from typing import Any

from tessera import RevocationEvent
from tessera.revocation import FeedGoneError

from auth_service.domain.sessions import Revocation
from auth_service.errors import CursorExpiredError
from auth_service.use_cases.revocation_feed import RevocationFeed


class InProcessFeed:
    """auth's own revocation feed as a `tessera.revocation.FeedSource`, read without HTTP."""

    def __init__(self, feed: RevocationFeed) -> None:
        self._feed = feed

    async def list_page(self) -> Any:
        return (await self._feed.list()).as_json()

    async def watch_page(self, cursor: str, *, poll_seconds: float) -> Any:
        try:
            page = await self._feed.watch(
                after=cursor, wait_seconds=poll_seconds, answer_on_close=False
            )
            return page.as_json()
        except CursorExpiredError as exc:
            raise FeedGoneError(str(exc)) from exc

    async def aclose(self) -> None:
        """Nothing to close: the feed is the process's own."""


def revocation_event_of(revocation: Revocation) -> RevocationEvent:
    """A revocation committed here, as the index takes it (its id only matters to cursors)."""
    return RevocationEvent(
        id="local",
        kind=revocation.kind,
        value=revocation.value,
        expires_at=revocation.expires_at,
        min_ver=revocation.min_ver,
    )
