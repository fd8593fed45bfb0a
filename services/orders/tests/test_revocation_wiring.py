"""orders consults its in-memory revocation index on every request, and /readyz reports the feed.

The index is the one the app's verifier uses (`app.state.service_identity.index`); events are
applied to it as the watcher would apply them from auth's feed (the watcher itself is tested in
the shared library, and against real auth end to end in the root tests/).
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from orders_service.adapters.migrations import MIGRATIONS
from orders_service.config import Settings
from orders_service.main import create_app
from tessera import KeySource, RevocationEvent
from tessera.revocation.events import EventKind
from tessera_dev.testing import ISSUER, KID

from .conftest import InTestExchange

IssueToken = Callable[..., str]


@asynccontextmanager
async def orders_app(
    tmp_path: Path, keys: KeySource, exchange: InTestExchange, **settings: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    url = f"sqlite+aiosqlite:///{tmp_path}/orders.db"
    await MIGRATIONS.upgrade(url)
    app = create_app(
        Settings(DATABASE_URL=url, ISSUER=ISSUER, **settings),
        keys=keys,
        billing_token_source=exchange,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://orders.test") as client:
            yield app, client


def _event(kind: EventKind, value: str, min_ver: int | None = None) -> RevocationEvent:
    """An event as auth's feed carries it, relevant for ten more minutes."""
    return RevocationEvent(
        id="1", kind=kind, value=value, expires_at=int(time.time()) + 600, min_ver=min_ver
    )


async def test_revoked_sessions_users_and_keys_are_401_without_asking_auth(
    tmp_path: Path, keys: KeySource, exchange: InTestExchange, issue_token: IssueToken
) -> None:
    alice, bob, carol = issue_token("alice"), issue_token("bob"), issue_token("carol")
    async with orders_app(tmp_path, keys, exchange) as (app, orders):
        # Verified once, so each token also sits in the verifier's cache.
        for token in (alice, bob, carol):
            assert (await orders.get("/v1/orders", headers=_bearer(token))).status_code == 200
        index = app.state.service_identity.index

        index.apply(_event("session", "session-of-alice"))
        index.apply(_event("user", "bob", min_ver=2))  # tokens with ver 1 die
        after_two = [await orders.get("/v1/orders", headers=_bearer(t)) for t in (alice, bob)]
        carol_still = await orders.get("/v1/orders", headers=_bearer(carol))
        index.apply(_event("key", KID))
        carol_after_key = await orders.get("/v1/orders", headers=_bearer(carol))

    assert [answer.status_code for answer in after_two] == [401, 401]
    for answer in after_two:
        assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert carol_still.status_code == 200
    assert carol_after_key.status_code == 401


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _unused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


async def test_with_the_feed_unreachable_readyz_fails_and_fail_closed_refuses_tokens(
    tmp_path: Path, keys: KeySource, exchange: InTestExchange, issue_token: IssueToken
) -> None:
    # Credentials configured, auth nowhere: the watcher starts, cannot list, and retries.
    async with orders_app(
        tmp_path,
        keys,
        exchange,
        AUTH_URL=_unused_url(),
        SERVICE_CLIENT_SECRET="orders-secret-in-test",
        REVOCATION_FAIL_CLOSED_AFTER_SECONDS=5,
    ) as (app, orders):
        ready = await orders.get("/readyz")
        refused = await orders.get("/v1/orders", headers=_bearer(issue_token("alice")))
        watcher = app.state.service_identity.watcher

    assert watcher is not None
    assert not watcher.ready
    assert ready.status_code == 503
    assert "revocations" in ready.json()["detail"]
    assert refused.status_code == 401
    assert "Revocation status is unavailable" in refused.headers["www-authenticate"]


async def test_without_service_credentials_there_is_no_watcher_and_orders_is_ready(
    tmp_path: Path, keys: KeySource, exchange: InTestExchange
) -> None:
    async with orders_app(tmp_path, keys, exchange) as (app, orders):
        ready = await orders.get("/readyz")

    assert app.state.service_identity.watcher is None
    assert (ready.status_code, ready.json()["checks"]["revocations"]) == (200, True)


async def test_in_the_default_fail_open_mode_readyz_stays_ready_and_shows_the_feeds_state(
    tmp_path: Path, keys: KeySource, exchange: InTestExchange
) -> None:
    async with orders_app(
        tmp_path, keys, exchange, AUTH_URL=_unused_url(), SERVICE_CLIENT_SECRET="orders-secret"
    ) as (_, orders):
        ready = await orders.get("/readyz")

    # never listed: not ready (nothing to verify revocations with yet), and it says why
    assert ready.status_code == 503
    assert ready.json()["details"]["revocations"] == {
        "policy": "fail_open",
        "watching": True,
        "listed": False,
        "staleness_seconds": None,
        "cursor": None,
    }
