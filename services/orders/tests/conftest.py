"""Fixtures: real RSA keys and tokens, fresh databases, orders and billing running in-process.

Nothing is mocked: both apps run their real lifespans; orders calls billing's real gRPC server
on loopback. Auth is not running: the key source is a small in-test one instead of auth's JWKS,
and `InTestExchange` signs exchanged tokens the way auth's token exchange does (DESIGN §6); the
real exchange is tested in auth's own tests and end to end in the root tests/.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from billing_service.adapters.migrations import upgrade_to_head as migrate_billing
from billing_service.config import Settings as BillingSettings
from billing_service.main import create_app as create_billing_app
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from fastapi import FastAPI
from orders_service.adapters.billing_client import TokenSource
from orders_service.adapters.migrations import upgrade_to_head as migrate_orders
from orders_service.config import Settings
from orders_service.main import create_app
from tessera import TokenExchangeError, current_principal_var

ISSUER = "http://issuer.test"
KID = "test-key-1"
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
USER_SCOPES = "orders:read orders:write invoices:read sessions"


class InTestKeys:
    """A KeySource holding the test's public key (what a loaded JWKS would give)."""

    def __init__(self, keys: dict[str, RSAPublicKey]) -> None:
        self._keys = keys

    async def get_key(self, kid: str) -> RSAPublicKey | None:
        return self._keys.get(kid)


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def keys(signing_key: rsa.RSAPrivateKey) -> InTestKeys:
    return InTestKeys({KID: signing_key.public_key()})


IssueToken = Callable[..., str]


@pytest.fixture
def issue_token(signing_key: rsa.RSAPrivateKey) -> IssueToken:
    """issue_token(sub=..., scope=..., roles=..., aud=..., key=...) -> an RS256 access token."""

    def issue(
        sub: str = "user-1",
        *,
        scope: str = USER_SCOPES,
        roles: tuple[str, ...] = ("user",),
        aud: tuple[str, ...] = ("auth", "orders", "billing"),
        key: rsa.RSAPrivateKey | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": sub,
            "aud": list(aud),
            "exp": now + 300,
            "iat": now,
            "nbf": now,
            "jti": uuid.uuid4().hex,
            "sid": f"session-of-{sub}",
            "client_id": "web",
            "scope": scope,
            "roles": list(roles),
            "ver": 1,
        }
        headers = {"kid": KID, "typ": "at+jwt"}
        return jwt.encode(claims, key or signing_key, algorithm="RS256", headers=headers)

    return issue


class InTestExchange:
    """Plays auth's token exchange for orders' tests: the caller's token, re-signed for billing.

    Same rules as auth: audience billing only, `act: {"sub": "orders"}`, scopes mapped down,
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
        headers = {"kid": KID, "typ": "at+jwt"}
        return jwt.encode(claims, self._key, algorithm="RS256", headers=headers)


@pytest.fixture
def exchange(signing_key: rsa.RSAPrivateKey) -> InTestExchange:
    return InTestExchange(signing_key)


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database with a unique name, dropped afterwards."""
    name = f"orders_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each API test runs on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/orders.db"
    else:
        async with fresh_postgres_database() as url:
            yield url


@pytest.fixture
async def billing_app(tmp_path: Path, keys: InTestKeys) -> AsyncIterator[FastAPI]:
    """The real billing service (HTTP app + gRPC on 127.0.0.1:0) on its own SQLite file."""
    url = f"sqlite+aiosqlite:///{tmp_path}/billing.db"
    await asyncio.to_thread(migrate_billing, url)
    app = create_billing_app(
        BillingSettings(DATABASE_URL=url, GRPC_PORT=0, ISSUER=ISSUER), keys=keys
    )
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def running_orders(
    database_url: str,
    keys: InTestKeys,
    billing_target: str,
    token_source: TokenSource,
    *,
    deadline_seconds: float = 2,
) -> AsyncIterator[httpx.AsyncClient]:
    """orders' real app and lifespan on `database_url`, calling billing at `billing_target`."""
    await asyncio.to_thread(migrate_orders, database_url)
    settings = Settings(
        DATABASE_URL=database_url,
        ISSUER=ISSUER,
        BILLING_GRPC_TARGET=billing_target,
        BILLING_DEADLINE_SECONDS=deadline_seconds,
    )
    app = create_app(settings, keys=keys, billing_token_source=token_source)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://orders.test") as client:
            yield client


@pytest.fixture
async def orders(
    database_url: str, keys: InTestKeys, billing_app: FastAPI, exchange: InTestExchange
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the orders service, wired to the running billing."""
    target = f"127.0.0.1:{billing_app.state.grpc_port}"
    async with running_orders(database_url, keys, target, exchange) as client:
        yield client


@pytest.fixture
async def orders_without_billing(
    tmp_path: Path, keys: InTestKeys, unused_port: int, exchange: InTestExchange
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
