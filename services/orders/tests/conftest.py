"""Fixtures: real RSA keys and tokens, fresh databases, orders and billing running in-process.

Nothing is mocked: both apps run their real lifespans; orders calls billing's real gRPC server
on loopback. Auth is not running: the key source is the test key of `tessera_dev.testing`
(which also signs the tokens and gives `database_url`) instead of auth's JWKS, and
`InTestExchange` signs exchanged tokens the way auth's token exchange does (DESIGN §6); the real
exchange is tested in auth's own tests and end to end in the root tests/.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from billing_service.adapters.migrations import MIGRATIONS as BILLING_MIGRATIONS
from billing_service.config import Settings as BillingSettings
from billing_service.main import create_app as create_billing_app
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from orders_service.adapters.migrations import MIGRATIONS
from orders_service.config import Settings
from orders_service.main import create_app
from tessera import KeySource, TokenExchangeError, current_principal_var
from tessera.grpc import TokenSource
from tessera_dev.testing import ISSUER, sign_token


class InTestExchange:
    """Plays auth's token exchange for orders' tests: the caller's token, re-signed for billing.

    Same rules as auth: audience billing only, `act: {"sub": "orders"}`, scopes mapped down, the
    authentication context (`auth_time`, `acr`, `amr`) copied,
    never outliving the subject; a revoked session is `invalid_grant`, and `auth_down`
    makes every exchange fail as if auth could not be reached.
    """

    SCOPE_MAP = {"orders:write": "billing:charge billing:refund", "invoices:read": "invoices:read"}

    def __init__(self, signing_key: rsa.RSAPrivateKey) -> None:
        self._key = signing_key
        self.revoked_sessions: set[str] = set()
        self.auth_down = False
        self.exchanges = 0

    async def __call__(self) -> str | None:
        principal = current_principal_var.get()
        if principal is None:
            return None
        if self.auth_down:
            raise TokenExchangeError("temporarily_unavailable", "auth unreachable", None)
        if principal.sid in self.revoked_sessions:
            raise TokenExchangeError("invalid_grant", "the session was revoked", 400)
        self.exchanges += 1
        scopes = " ".join(
            self.SCOPE_MAP[s] for s in sorted(principal.scopes) if s in self.SCOPE_MAP
        )
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": principal.sub,
            "aud": ["billing"],
            "exp": min(now + 300, principal.expires_at),
            "iat": now,
            "nbf": now,
            "jti": uuid.uuid4().hex,
            "sid": principal.sid,
            "client_id": "orders",
            "scope": scopes,
            "roles": sorted(principal.roles),
            "ver": principal.ver,
            "act": {"sub": "orders"},
        }
        if principal.auth_time is not None:  # as auth copies them (DESIGN §11)
            claims |= {"auth_time": principal.auth_time, "amr": list(principal.amr)}
        if principal.acr is not None:
            claims["acr"] = principal.acr
        return sign_token(self._key, claims)


@pytest.fixture
def exchange(signing_key: rsa.RSAPrivateKey) -> InTestExchange:
    return InTestExchange(signing_key)


@asynccontextmanager
async def running_billing(
    tmp_path: Path, keys: KeySource, *, grpc_port: int = 0
) -> AsyncIterator[FastAPI]:
    """The real billing service (HTTP app + gRPC on 127.0.0.1:`grpc_port`, 0 = any) on its own
    SQLite file in `tmp_path`."""
    url = f"sqlite+aiosqlite:///{tmp_path}/billing.db"
    await BILLING_MIGRATIONS.upgrade(url)
    app = create_billing_app(
        BillingSettings(DATABASE_URL=url, GRPC_PORT=grpc_port, ISSUER=ISSUER), keys=keys
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def billing_app(tmp_path: Path, keys: KeySource) -> AsyncIterator[FastAPI]:
    async with running_billing(tmp_path, keys) as app:
        yield app


@asynccontextmanager
async def running_orders(
    database_url: str,
    keys: KeySource,
    billing_target: str,
    token_source: TokenSource,
    *,
    deadline_seconds: float = 2,
    **settings_overrides: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """orders' real app and lifespan on `database_url`, calling billing at `billing_target`."""
    await MIGRATIONS.upgrade(database_url)
    settings = Settings(
        DATABASE_URL=database_url,
        ISSUER=ISSUER,
        BILLING_GRPC_TARGET=billing_target,
        BILLING_DEADLINE_SECONDS=deadline_seconds,
        **settings_overrides,
    )
    app = create_app(settings, keys=keys, billing_token_source=token_source)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://orders.test") as client:
            yield client


@pytest.fixture
async def orders(
    database_url: str, keys: KeySource, billing_app: FastAPI, exchange: InTestExchange
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the orders service, wired to the running billing."""
    target = f"127.0.0.1:{billing_app.state.grpc_port}"
    async with running_orders(database_url, keys, target, exchange) as client:
        yield client


@pytest.fixture
async def orders_without_billing(
    tmp_path: Path, keys: KeySource, unused_port: int, exchange: InTestExchange
) -> AsyncIterator[httpx.AsyncClient]:
    """The orders service pointed at a billing address where nothing listens."""
    url = f"sqlite+aiosqlite:///{tmp_path}/orders.db"
    target = f"127.0.0.1:{unused_port}"
    async with running_orders(url, keys, target, exchange, deadline_seconds=0.5) as client:
        yield client


@pytest.fixture
async def billing_http(billing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=billing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as client:
        yield client


@pytest.fixture
def unused_port() -> int:
    """A loopback port nobody listens on (billing is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
