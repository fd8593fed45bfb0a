"""RevocationWatcher against a real HTTP feed: list then watch, resume, 410, back-off, prune."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from tessera import (
    InvalidTokenError,
    RevocationIndex,
    RevocationWatcher,
    ServiceIdentity,
    ServiceTokenProvider,
    TokenVerifier,
)
from tessera.revocation import Backoff, HttpRevocationFeed

from .auth_double import AuthDouble, serving

FAR = int(time.time()) + 3600


@dataclass
class Feed:
    double: AuthDouble
    base_url: str
    client: httpx.AsyncClient
    tokens: ServiceTokenProvider


@pytest.fixture
async def feed() -> AsyncIterator[Feed]:
    double = AuthDouble()
    async with serving(double.app) as base_url, httpx.AsyncClient() as client:
        tokens = ServiceTokenProvider(
            token_url=f"{base_url}/v1/auth/token",
            client_id="orders",
            client_secret="s3cret+/=:",
            audience="auth",
            scope="revocations:read",
            http_client=client,
        )
        yield Feed(double, base_url, client, tokens)


@contextlib.asynccontextmanager
async def running(
    feed: Feed, index: RevocationIndex, **kwargs: Any
) -> AsyncIterator[RevocationWatcher]:
    options: dict[str, Any] = {
        "watch_timeout_seconds": 1,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        **kwargs,
    }
    watcher = RevocationWatcher(
        feed=HttpRevocationFeed(
            base_url=feed.base_url, token_provider=feed.tokens, http_client=feed.client
        ),
        index=index,
        **options,
    )
    await watcher.start()
    try:
        yield watcher
    finally:
        await watcher.aclose()


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Poll until `condition()` holds; fail after `within` seconds (generous: a busy machine)."""
    async with asyncio.timeout(within):
        while not condition():
            await asyncio.sleep(0.01)


async def test_it_lists_at_start_then_watches_from_the_cursor(feed: Feed) -> None:
    await feed.double.publish("session", "session-1", FAR)
    await feed.double.publish("user", "user-1", FAR, min_ver=2)
    index = RevocationIndex()

    async with running(feed, index) as watcher:
        assert watcher.ready
        assert index.sizes() == {"session": 1, "user": 1, "token": 0, "key": 0}
        await feed.double.publish("token", "jti-1", FAR)
        await eventually(lambda: "jti-1" in index.tokens)

    requests = feed.double.feed_requests
    assert requests[0] == ("/v1/revocations", {})
    assert requests[1] == ("/v1/revocations/watch", {"after": "2", "timeout": "1"})
    assert watcher.events_applied == 3
    assert watcher.cursor == "3"


async def test_an_event_committed_while_disconnected_arrives_on_reconnect(feed: Feed) -> None:
    index = RevocationIndex()
    async with running(feed, index) as watcher:
        await feed.double.publish("session", "before", FAR)
        await eventually(lambda: "before" in index.sessions)

        feed.double.feed_down = True
        feed.double.drop_watches()
        await eventually(lambda: watcher.reconnects >= 2)
        await feed.double.publish("session", "while-down", FAR)
        feed.double.feed_down = False
        await eventually(lambda: "while-down" in index.sessions)

    assert feed.double.paths_requested().count("/v1/revocations") == 1
    resumed = [query for path, query in feed.double.feed_requests if path.endswith("/watch")]
    assert resumed[1] == {"after": "1", "timeout": "1"}  # the poll that was dropped
    # Every retry resumes from the cursor (never from scratch), returning at once to prove
    # the feed is back; only then do long polls resume from the new cursor.
    retries = [query for query in resumed[2:] if query["after"] == "1"]
    assert retries
    assert all(query["timeout"] == "0" for query in retries)
    assert all(query["after"] in {"1", "2"} for query in resumed[1:])
    assert watcher.relists == 0


async def test_a_pruned_cursor_answers_410_and_the_watcher_relists(feed: Feed) -> None:
    index = RevocationIndex()
    async with running(feed, index) as watcher:
        feed.double.feed_down = True
        feed.double.drop_watches()
        await eventually(lambda: watcher.reconnects >= 1)
        await feed.double.publish("session", "missed-1", FAR)
        await feed.double.publish("session", "missed-2", FAR)
        feed.double.oldest_cursor = 2  # auth pruned past the watcher's cursor "0"
        feed.double.feed_down = False
        await eventually(lambda: {"missed-1", "missed-2"} <= set(index.sessions))

    assert watcher.relists == 1
    assert feed.double.paths_requested().count("/v1/revocations") == 2


def test_backoff_doubles_to_its_maximum_and_resets() -> None:
    highest = Backoff(0.2, 5.0, rng=lambda low, high: high)
    delays = [highest.next_delay() for _ in range(8)]
    assert delays == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    highest.reset()
    assert highest.next_delay() == 0.2

    jittered = Backoff(0.2, 5.0)
    assert all(0.1 <= jittered.next_delay() <= 5.0 for _ in range(50))


async def test_after_a_long_outage_the_watcher_is_back_within_the_backoff_bound(
    feed: Feed,
) -> None:
    index = RevocationIndex()
    async with running(feed, index, backoff_max_seconds=0.1) as watcher:
        feed.double.feed_down = True
        feed.double.drop_watches()
        await eventually(lambda: watcher.reconnects >= 8)  # well past 0.1 s of doubling
        await feed.double.publish("session", "after-outage", FAR)
        feed.double.feed_down = False
        # uncapped, the 8 doublings would wait 25 s and more; 5 s is generous on a busy machine
        await eventually(lambda: "after-outage" in index.sessions, within=5.0)
        assert watcher.healthy


async def test_a_rejected_service_token_is_renewed(feed: Feed) -> None:
    index = RevocationIndex()
    async with running(feed, index):
        feed.double.revoke_service_tokens()
        await feed.double.publish("session", "one", FAR)  # answers the poll already open
        await feed.double.publish("session", "two", FAR)
        await eventually(lambda: "two" in index.sessions)

    assert len(feed.double.token_requests) == 2


async def test_the_watcher_prunes_entries_that_can_no_longer_match(feed: Feed) -> None:
    wall = [float(FAR - 1000)]
    await feed.double.publish("session", "short-lived", FAR - 900)
    await feed.double.publish("session", "long-lived", FAR)
    index = RevocationIndex(leeway_seconds=30)

    async with running(
        feed, index, watch_timeout_seconds=0.1, prune_interval_seconds=1, wall_clock=lambda: wall[0]
    ):
        assert set(index.sessions) == {"short-lived", "long-lived"}
        wall[0] = FAR - 900 + 31
        await eventually(lambda: set(index.sessions) == {"long-lived"})


async def test_with_fail_closed_a_stale_index_refuses_tokens_until_the_feed_is_back(
    feed: Feed, verifier: TokenVerifier, mint: Callable[..., str]
) -> None:
    monotonic = [100.0]
    index = RevocationIndex(clock=lambda: monotonic[0])
    verifier.revocation_check = index.check
    token = mint()

    async with running(feed, index, fail_closed_after_seconds=5) as watcher:
        await verifier.verify(token)
        feed.double.feed_down = True
        feed.double.drop_watches()
        await eventually(lambda: watcher.reconnects >= 1)
        monotonic[0] += 6
        assert not watcher.healthy
        with pytest.raises(InvalidTokenError, match="unavailable"):
            await verifier.verify(token)

        feed.double.feed_down = False
        await eventually(lambda: watcher.staleness_seconds == 0)
        assert watcher.healthy
        await verifier.verify(token)


async def test_by_default_a_stale_index_keeps_verifying(
    feed: Feed, verifier: TokenVerifier, mint: Callable[..., str]
) -> None:
    monotonic = [100.0]
    index = RevocationIndex(clock=lambda: monotonic[0])
    verifier.revocation_check = index.check
    async with running(feed, index) as watcher:
        feed.double.feed_down = True
        feed.double.drop_watches()
        await eventually(lambda: watcher.reconnects >= 1)
        monotonic[0] += 3600
        assert watcher.staleness_seconds >= 3600
        await verifier.verify(mint())


async def test_a_key_event_drops_the_keys_cached_tokens_and_refuses_them(
    feed: Feed, verifier: TokenVerifier, mint: Callable[..., str]
) -> None:
    index = RevocationIndex()
    verifier.revocation_check = index.check
    token = mint()
    async with running(feed, index, verifier=verifier):
        await verifier.verify(token)
        assert verifier.cached_token_count() == 1
        await feed.double.publish("key", "key-1", FAR)
        await eventually(lambda: verifier.cached_token_count() == 0)

    with pytest.raises(InvalidTokenError, match="signing key"):
        await verifier.verify(token)


async def test_start_returns_without_the_feed_and_the_watcher_catches_up(feed: Feed) -> None:
    feed.double.feed_down = True
    index = RevocationIndex()
    async with running(feed, index, startup_wait_seconds=0.1) as watcher:
        assert not watcher.ready
        assert not watcher.healthy
        await feed.double.publish("session", "s", FAR)
        feed.double.feed_down = False
        await eventually(lambda: watcher.ready and "s" in index.sessions)


async def test_the_readiness_report_shows_a_lost_feed_as_growing_staleness_while_ready(
    feed: Feed,
) -> None:
    monotonic = [100.0]
    index = RevocationIndex(clock=lambda: monotonic[0])
    identity = ServiceIdentity(
        index=index,
        watcher_tokens=None,
        exchanger=None,
        auth_url=feed.base_url,
        fail_closed_after_seconds=None,
    )
    async with running(feed, index) as watcher:
        identity.watcher = watcher
        live = identity.revocation_status()
        feed.double.feed_down = True
        feed.double.drop_watches()
        await eventually(lambda: watcher.reconnects >= 1)
        monotonic[0] += 120
        lost = identity.revocation_status()
        still_ready = await identity.revocations_ready()

    assert live["policy"] == "fail_open"
    assert (live["listed"], live["staleness_seconds"]) == (True, 0.0)
    assert isinstance(lost["staleness_seconds"], float)
    assert lost["staleness_seconds"] >= 120
    assert still_ready  # fail-open: a stale index is reported, not a reason to stop serving


async def test_the_index_size_and_lag_are_exported_as_metrics(feed: Feed) -> None:
    def sample(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    monotonic = [100.0]
    index = RevocationIndex(clock=lambda: monotonic[0])
    await feed.double.publish("session", "sid-1", FAR)
    await feed.double.publish("session", "sid-2", FAR)
    await feed.double.publish("token", "jti-1", FAR)
    async with running(feed, index) as watcher:
        await eventually(lambda: len(index.sessions) == 2 and len(index.tokens) == 1)
        assert sample("tessera_revocation_index_entries", kind="session") == 2
        assert sample("tessera_revocation_index_entries", kind="token") == 1
        assert sample("tessera_revocation_lag_seconds") == 0

        feed.double.feed_down = True
        feed.double.drop_watches()
        await eventually(lambda: watcher.reconnects >= 1)
        monotonic[0] += 42
        lag = sample("tessera_revocation_lag_seconds")
    assert lag is not None
    assert lag >= 42
