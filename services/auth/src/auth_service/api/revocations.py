"""`GET /v1/revocations` (list) and `GET /v1/revocations/watch` (long-poll), DESIGN §4.

Both need a service token for audience `auth` with scope `revocations:read` (401 without a
valid token, 403 without the scope). A cursor older than the feed's pruned history is 410
problem+json: the watcher then lists again. Internal only: the gateways do not route here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from tessera import Principal, ProblemError, require_scopes

from auth_service.adapters.revocation_feed import EVENTS_SERVED, RevocationFeed
from auth_service.domain.revocation_feed import (
    WATCH_TIMEOUT_CAP_SECONDS,
    CursorExpiredError,
    MalformedCursorError,
    list_events,
    watch_events,
)

router = APIRouter(prefix="/v1/revocations", tags=["revocations"])
FeedReader = Annotated[Principal, Depends(require_scopes("revocations:read"))]


def _feed(request: Request) -> RevocationFeed:
    feed: RevocationFeed = request.app.state.revocation_feed
    return feed


@router.get("")
async def list_revocations(request: Request, _: FeedReader) -> dict[str, Any]:
    """Every revocation event that can still match an acceptable token, and a cursor."""
    feed = _feed(request)
    page = await list_events(feed.source, now=feed.clock(), leeway=feed.leeway_seconds)
    EVENTS_SERVED.labels("list").inc(len(page.events))
    return page.as_json()


@router.get("/watch")
async def watch_revocations(
    request: Request,
    _: FeedReader,
    after: Annotated[str, Query(min_length=1, max_length=32)],
    timeout: Annotated[float, Query(ge=0)] = 30.0,  # noqa: ASYNC109 (the feed's query parameter)
) -> dict[str, Any]:
    """Events after `after`, as soon as one commits; empty at `timeout` (at most 60 s)."""
    feed = _feed(request)
    try:
        page = await watch_events(
            feed.source,
            feed.wakeups,
            after=after,
            wait_seconds=min(timeout, WATCH_TIMEOUT_CAP_SECONDS),
            recheck_seconds=feed.recheck_seconds,
        )
    except MalformedCursorError as exc:
        raise ProblemError(400, "Bad Request", str(exc)) from None
    except CursorExpiredError as exc:
        raise ProblemError(410, "Gone", str(exc)) from None
    EVENTS_SERVED.labels("watch").inc(len(page.events))
    return page.as_json()
