"""The long-running parts of one auth process, started and stopped together by the app.

PostgresListener ──NOTIFY──> RevocationFeed.wakeups      (watchers long-polling here wake)
                 └─NOTIFY──> KeyRingRefresher             (this replica reloads its keys)
KeyRingRefresher ─changed──> feed wake-up (a key event may have come with it) and the
                             verifier forgets tokens of keys that left the ring
MaintenanceLoop (one replica at a time): key schedule, event pruning, sealed successors
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

from tessera import TokenVerifier

from auth_service.adapters.key_ring_refresher import KeyRingRefresher
from auth_service.adapters.maintenance import Chore, MaintenanceLoop
from auth_service.adapters.pg_listener import PostgresListener
from auth_service.adapters.revocation_feed import RevocationFeed
from auth_service.adapters.session_repository import clear_expired_sealed_successors
from auth_service.adapters.signing_key_store import KEYS_CHANNEL
from auth_service.bootstrap import AuthRuntime

AUDIENCE = "auth"
LISTENER_CONNECT_WAIT_SECONDS = 5.0
SEALED_SUCCESSOR_CLOCK_MARGIN = timedelta(seconds=60)
"""Kept this much past the grace window before clearing: the replica clearing may run ahead of
the one a benign retry reaches, and clearing early would turn that retry into reuse."""


@dataclass
class AuthBackground:
    """What the request handlers reach through `app.state`."""

    token_verifier: TokenVerifier
    revocation_feed: RevocationFeed
    key_refresher: KeyRingRefresher
    maintenance: MaintenanceLoop


def _maintenance_chores(
    runtime: AuthRuntime, feed: RevocationFeed, refresher: KeyRingRefresher
) -> list[Chore]:
    async def keys() -> str | None:
        outcome = await runtime.key_store.maintain()
        if outcome.changes.empty:
            return None
        refresher.request_reload()
        return f"signing keys: active={outcome.active} next={outcome.next}"

    async def sealed_successors() -> int:
        window = timedelta(seconds=runtime.settings.REFRESH_GRACE_SECONDS)
        return await clear_expired_sealed_successors(
            runtime.storage.session_factory,
            used_before=runtime.now() - window - SEALED_SUCCESSOR_CLOCK_MARGIN,
        )

    return [
        Chore("signing_keys", keys),
        Chore("revocation_events", feed.prune),
        Chore("sealed_successors", sealed_successors),
    ]


@contextlib.asynccontextmanager
async def run_background(
    runtime: AuthRuntime, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[AuthBackground]:
    settings = runtime.settings
    engine = runtime.storage.engine
    listener = (
        PostgresListener(settings.DATABASE_URL) if engine.dialect.name == "postgresql" else None
    )
    feed = RevocationFeed(
        runtime.storage,
        leeway_seconds=settings.TOKEN_LEEWAY_SECONDS,
        listener=listener,
        clock=clock,
    )
    refresher = KeyRingRefresher(
        runtime.key_store, runtime.keys, reload_seconds=settings.SIGNING_KEY_RELOAD_SECONDS
    )
    # auth verifies its own tokens in process: the refreshed key ring is the KeySource
    verifier = TokenVerifier(
        issuer=settings.ISSUER,
        audience=AUDIENCE,
        keys=refresher,
        leeway_seconds=settings.TOKEN_LEEWAY_SECONDS,
        clock=clock,
    )

    def keys_changed(removed: frozenset[str]) -> None:
        for kid in removed:
            verifier.forget_key(kid)
        feed.wakeups.notify()  # on SQLite, a key event written by the CLI is served now

    refresher.on_change(keys_changed)
    if listener is not None:
        listener.subscribe(KEYS_CHANNEL, refresher.request_reload)
    maintenance = MaintenanceLoop(
        engine,
        _maintenance_chores(runtime, feed, refresher),
        interval_seconds=settings.MAINTENANCE_INTERVAL_SECONDS,
    )
    listening: asyncio.Task[None] | None = None
    await feed.start()
    await refresher.start()
    try:
        if listener is not None:
            listening = asyncio.create_task(listener.run(), name="postgres-listen")
            with contextlib.suppress(TimeoutError):  # serve anyway; polling covers the gap
                await asyncio.wait_for(listener.connected.wait(), LISTENER_CONNECT_WAIT_SECONDS)
        await maintenance.start()
        yield AuthBackground(verifier, feed, refresher, maintenance)
    finally:
        await maintenance.aclose()
        if listening is not None:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
        await refresher.aclose()
        await feed.aclose()
