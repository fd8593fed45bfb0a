"""Fixtures: real RSA keys and tokens, a freshly migrated database, billing running in-process.

Nothing is mocked: the app runs its real lifespan (gRPC server on 127.0.0.1:0, TokenVerifier),
only the key source is a small in-test one instead of fetching auth's JWKS.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
import jwt
import pytest
from billing_service.adapters.migrations import upgrade_to_head
from billing_service.config import Settings
from billing_service.main import create_app
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from fastapi import FastAPI
from tessera.billing.v1 import billing_pb2_grpc

ISSUER = "http://issuer.test"
KID = "test-key-1"
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
USER_SCOPES = "orders:read orders:write invoices:read sessions"
EXCHANGED_SCOPES = "billing:charge billing:refund invoices:read"


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
        act: str | None = None,
        client_id: str = "web",
        with_session: bool = True,
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
            "client_id": client_id,
            "scope": scope,
            "roles": list(roles),
            "ver": 1,
        }
        if with_session:
            claims["sid"] = f"session-of-{sub}"
        if act is not None:
            claims["act"] = {"sub": act}
        headers = {"kid": KID, "typ": "at+jwt"}
        return jwt.encode(claims, key or signing_key, algorithm="RS256", headers=headers)

    return issue


@pytest.fixture
def issue_exchanged_token(issue_token: IssueToken) -> IssueToken:
    """A token shaped as auth's token exchange issues it to orders for a user (DESIGN §6)."""

    def issue(sub: str = "user-1", *, scope: str = EXCHANGED_SCOPES, actor: str = "orders") -> str:
        return issue_token(sub, scope=scope, aud=("billing",), act=actor, client_id=actor)

    return issue


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database with a unique name, dropped afterwards."""
    name = f"billing_test_{uuid.uuid4().hex[:12]}"
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
        yield f"sqlite+aiosqlite:///{tmp_path}/billing.db"
    else:
        async with fresh_postgres_database() as url:
            yield url


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/billing.db"
    await asyncio.to_thread(upgrade_to_head, url)
    return url


async def _running_billing(database_url: str, keys: InTestKeys) -> AsyncIterator[FastAPI]:
    await asyncio.to_thread(upgrade_to_head, database_url)
    settings = Settings(DATABASE_URL=database_url, GRPC_PORT=0, ISSUER=ISSUER)
    app = create_app(settings, keys=keys)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def billing_app(database_url: str, keys: InTestKeys) -> AsyncIterator[FastAPI]:
    """billing, migrated and running (HTTP app + gRPC server), on each database."""
    async for app in _running_billing(database_url, keys):
        yield app


@pytest.fixture
async def billing_on_sqlite(tmp_path: Path, keys: InTestKeys) -> AsyncIterator[FastAPI]:
    """billing running on SQLite only, for the gRPC behaviour tests."""
    async for app in _running_billing(f"sqlite+aiosqlite:///{tmp_path}/billing.db", keys):
        yield app


@pytest.fixture
async def http(billing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=billing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as client:
        yield client


@pytest.fixture
async def billing_stub(billing_on_sqlite: FastAPI) -> AsyncIterator[Any]:
    """A BillingService stub over a real loopback channel to the running server."""
    port = billing_on_sqlite.state.grpc_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield billing_pb2_grpc.BillingServiceStub(channel)
