"""RevocationWatcher: keeps a RevocationIndex in step with auth's feed (list + watch, DESIGN §4).

At start it lists every relevant event, then long-polls for the events after its cursor,
applying them and keeping the cursor. A gone cursor (410: older than auth's pruning) re-lists;
any other failure backs off with jitter (at most `backoff_max_seconds`) and resumes from the
cursor, so no event committed meanwhile is missed. Key events also drop the key's cached tokens
from the verifier.

Where the pages come from is a `FeedSource`: `HttpRevocationFeed` for orders and billing
(`GET /v1/revocations`, `GET /v1/revocations/watch?after=CURSOR&timeout=30`, with this service's
token, scope `revocations:read`; a 401 renews it), or auth's own feed read in process, so auth
checks its own tokens against the same index every resource service keeps.

Example::

    index = RevocationIndex()
    verifier = TokenVerifier(..., revocation_check=index.check)
    feed = HttpRevocationFeed(base_url=settings.AUTH_URL, token_provider=feed_token)
    watcher = RevocationWatcher(feed=feed, index=index, verifier=verifier)
    await watcher.start()     # returns after the first list, or after a few seconds without one
    ...
    await watcher.aclose()
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from tessera._token_endpoint import TokenEndpointError
from tessera.background import BackgroundTask, wait_for_event
from tessera.keep_alive import client_limits
from tessera.metrics import (
    REVOCATION_ENTRIES,
    REVOCATION_EVENTS_APPLIED,
    REVOCATION_LAG,
    REVOCATION_RECONNECTS,
    REVOCATION_RELISTS,
)
from tessera.revocation.events import MalformedEventError, RevocationEvent
from tessera.revocation.index import RevocationIndex
from tessera.service_tokens import ServiceTokenSource
from tessera.tokens.verifier import TokenVerifier

logger = logging.getLogger(__name__)

LIST_PATH = "/v1/revocations"
WATCH_PATH = "/v1/revocations/watch"
# How much longer than the poll itself a watch response may take before it counts as hung.
WATCH_GRACE_SECONDS = 10.0


class FeedError(Exception):
    """Raised when the feed answers something other than a page of events."""


class FeedGoneError(FeedError):
    """Raised by a FeedSource when the cursor is older than auth's pruning (410); re-list."""


class FeedSource(Protocol):
    """Where a watcher reads pages `{"events": [...], "cursor": ...}` from."""

    async def list_page(self) -> Any:
        """Every event still relevant, and the cursor to watch from."""
        ...

    async def watch_page(self, cursor: str, *, poll_seconds: float) -> Any:
        """The events after `cursor` as soon as there are any (none after `poll_seconds`);
        FeedGoneError when the cursor can no longer be resumed from."""
        ...

    async def aclose(self) -> None: ...


class HttpRevocationFeed:
    """auth's feed over HTTP, with this service's token (scope `revocations:read`)."""

    def __init__(
        self,
        *,
        base_url: str,
        token_provider: ServiceTokenSource,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._tokens = token_provider
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(limits=client_limits())

    async def list_page(self) -> Any:
        return await self._get(LIST_PATH, {}, read_seconds=10.0)

    async def watch_page(self, cursor: str, *, poll_seconds: float) -> Any:
        params = {"after": cursor, "timeout": f"{poll_seconds:g}"}
        return await self._get(WATCH_PATH, params, read_seconds=poll_seconds + WATCH_GRACE_SECONDS)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _get(self, path: str, params: dict[str, str], *, read_seconds: float) -> Any:
        token = await self._tokens.token()
        response = await self._client.get(
            self._base_url + path,
            params=params,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(5.0, read=read_seconds),
        )
        if response.status_code == httpx.codes.GONE:
            raise FeedGoneError("410")
        if response.status_code == httpx.codes.UNAUTHORIZED:
            self._tokens.invalidate()
        if response.status_code != httpx.codes.OK:
            raise FeedError(f"revocation feed answered {response.status_code}")
        return response.json()


class Backoff:
    """Exponential back-off with jitter: each delay is drawn from [d/2, d], d doubling up to
    `maximum`, so reconnecting watchers spread out instead of hitting auth together."""

    def __init__(
        self, initial: float, maximum: float, rng: Callable[[float, float], float] = random.uniform
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self._rng = rng
        self._ceiling = initial

    def next_delay(self) -> float:
        """The next delay to wait; grows until `maximum`."""
        ceiling = min(self._ceiling, self.maximum)
        self._ceiling = min(self._ceiling * 2, self.maximum)
        return self._rng(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Back to the initial delay, after a success."""
        self._ceiling = self.initial


class RevocationWatcher:
    """Runs the list + watch loop for one RevocationIndex in a background task."""

    def __init__(
        self,
        *,
        feed: FeedSource,
        index: RevocationIndex,
        verifier: TokenVerifier | None = None,
        fail_closed_after_seconds: float | None = None,
        watch_timeout_seconds: float = 30,
        backoff_initial_seconds: float = 0.2,
        backoff_max_seconds: float = 5,
        prune_interval_seconds: float = 30,
        startup_wait_seconds: float = 3,
        unhealthy_after_seconds: float = 60,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._feed = feed
        self.index = index
        self._verifier = verifier
        if fail_closed_after_seconds is not None:
            index.fail_closed_after_seconds = fail_closed_after_seconds
        self._watch_timeout = watch_timeout_seconds
        self._backoff = Backoff(backoff_initial_seconds, backoff_max_seconds)
        self._prune_interval = prune_interval_seconds
        self._startup_wait = startup_wait_seconds
        self._unhealthy_after = unhealthy_after_seconds
        self._wall_clock = wall_clock
        self._next_prune = 0.0
        self._cursor: str | None = None
        self._connected = False
        self._first_sync = asyncio.Event()
        self._loop = BackgroundTask("revocation-watcher", self._run)
        self.events_applied = 0
        self.reconnects = 0
        self.relists = 0

    @property
    def cursor(self) -> str | None:
        """The feed position the next watch resumes from (None: the next call lists)."""
        return self._cursor

    @property
    def ready(self) -> bool:
        """Whether the index has been loaded from the feed at least once."""
        return self._first_sync.is_set()

    @property
    def staleness_seconds(self) -> float:
        """Seconds the index may have missed events for: 0 while the watch is live."""
        return self.index.staleness_seconds()

    @property
    def healthy(self) -> bool:
        """Loaded, and not staler than the fail-closed limit (or `unhealthy_after_seconds`)."""
        limit = self.index.fail_closed_after_seconds
        limit = self._unhealthy_after if limit is None else limit
        return self.ready and self.staleness_seconds <= limit

    async def start(self) -> None:
        """Start the loop; wait up to `startup_wait_seconds` for the first list."""
        if not self._loop.running:
            self._export_metrics()
            self._loop.start()
        await wait_for_event(self._first_sync, self._startup_wait)

    async def aclose(self) -> None:
        """Stop the loop and close the feed."""
        await self._loop.stop()
        await self._feed.aclose()

    async def _run(self) -> None:
        while True:
            try:
                if self._cursor is None:
                    await self._list()
                else:
                    await self._watch()
                self._backoff.reset()
            except FeedGoneError:
                logger.info("Revocation cursor expired at auth; re-listing")
                self._cursor = None
                self.relists += 1
                REVOCATION_RELISTS.inc()
            except Exception as exc:
                await self._after_failure(exc)
            self._prune_if_due()

    async def _after_failure(self, exc: Exception) -> None:
        self._connected = False
        self.index.mark_disconnected()
        self.reconnects += 1
        REVOCATION_RECONNECTS.inc()
        delay = self._backoff.next_delay()
        if isinstance(exc, httpx.HTTPError | FeedError | TokenEndpointError | ValueError):
            logger.warning(
                "Revocation feed unavailable; retrying from the cursor",
                extra={"error": type(exc).__name__, "retry_in_seconds": round(delay, 3)},
            )
        else:
            logger.exception("Revocation watcher failed unexpectedly; retrying")
        await asyncio.sleep(delay)

    async def _list(self) -> None:
        self._accept(_checked(await self._feed.list_page()))
        self._first_sync.set()

    async def _watch(self) -> None:
        assert self._cursor is not None
        # After a failure the first poll returns at once (timeout=0): it proves the feed is
        # back and catches up, so the index is fresh again without waiting a whole poll.
        poll_seconds = self._watch_timeout if self._connected else 0
        if self._connected:
            self.index.mark_watching(self._watch_timeout + WATCH_GRACE_SECONDS)
        self._accept(_checked(await self._feed.watch_page(self._cursor, poll_seconds=poll_seconds)))

    def _accept(self, page: dict[str, Any]) -> None:
        for item in page["events"]:
            try:
                event = RevocationEvent.from_json(item)
            except MalformedEventError as exc:
                # Skipped rather than retried for ever: a newer auth may send kinds we don't know.
                logger.warning("Skipping a revocation event", extra={"error": str(exc)})
                continue
            self.index.apply(event)
            if event.kind == "key" and self._verifier is not None:
                self._verifier.forget_key(event.value)
            self.events_applied += 1
            REVOCATION_EVENTS_APPLIED.labels(event.kind).inc()
        self._cursor = page["cursor"]
        self._connected = True
        self.index.mark_synced()

    def _prune_if_due(self) -> None:
        now = self._wall_clock()
        if now >= self._next_prune:
            self._next_prune = now + self._prune_interval
            self.index.prune(now)

    def _export_metrics(self) -> None:
        index = self.index
        REVOCATION_LAG.set_function(index.staleness_seconds)
        for kind in ("session", "user", "token", "key"):
            REVOCATION_ENTRIES.labels(kind).set_function(_size_of(index, kind))


def _checked(page: Any) -> dict[str, Any]:
    """A well-formed page, its cursor as a string; FeedError for anything else."""
    if not isinstance(page, dict) or not isinstance(page.get("events"), list):
        raise FeedError("revocation feed page has no events list")
    cursor = page.get("cursor")
    if isinstance(cursor, bool) or not isinstance(cursor, str | int):
        raise FeedError("revocation feed page has no cursor")
    return {**page, "cursor": str(cursor)}


def _size_of(index: RevocationIndex, kind: str) -> Callable[[], float]:
    return lambda: index.sizes()[kind]
