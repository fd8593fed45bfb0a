"""`GET /v1/revocations` (list) and `GET /v1/revocations/watch` (long-poll), DESIGN §4.

Both need a service token for audience `auth` with scope `revocations:read` (401 without a
valid token, 403 without the scope). A cursor older than the feed's pruned history is 410
problem+json: the watcher then lists again. Internal only: the gateways do not route here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from tessera import Principal, require_scopes
from tessera.http.openapi import problem_responses

from auth_service.api.deps import RuntimeDep

router = APIRouter(prefix="/v1/revocations", tags=["revocations"], responses=problem_responses(410))
FeedReader = Annotated[Principal, Depends(require_scopes("revocations:read"))]


@router.get("")
async def list_revocations(_: FeedReader, runtime: RuntimeDep) -> dict[str, Any]:
    """Every revocation event that can still match an acceptable token, and a cursor."""
    return (await runtime.revocation_feed.list()).as_json()


@router.get("/watch")
async def watch_revocations(
    _: FeedReader,
    runtime: RuntimeDep,
    after: Annotated[str, Query(min_length=1, max_length=32)],
    timeout: Annotated[float, Query(ge=0)] = 30.0,  # noqa: ASYNC109 (the feed's query parameter)
) -> dict[str, Any]:
    """Events after `after`, as soon as one commits; empty at `timeout` (at most 60 s)."""
    page = await runtime.revocation_feed.watch(after=after, wait_seconds=timeout)
    return page.as_json()
