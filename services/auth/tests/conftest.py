"""Fixtures: fresh databases (a SQLite file, and a PostgreSQL database created and dropped per
test), migrated by Alembic, and the app served in process over httpx's ASGI transport."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from auth_service.adapters.migrations import MIGRATIONS
from auth_service.config import Settings
from auth_service.main import create_app
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from tessera_dev.mail_catcher import MailCatcher

from .session_support import Auth, running

POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database nobody else uses, removed afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
        return
    name = f"auth_test_{uuid.uuid4().hex}"
    admin = create_async_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture
async def database_url(empty_database_url: str) -> str:
    await MIGRATIONS.upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def key_encryption_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


@pytest.fixture
async def mail() -> AsyncIterator[MailCatcher]:
    """A real SMTP server of the test's own (any free loopback port), keeping what auth sends."""
    async with MailCatcher(port=0) as catcher:
        yield catcher


@pytest.fixture
def settings(database_url: str, key_encryption_key: str, mail: MailCatcher) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        SMTP_URL=mail.smtp_url,
        MAIL_POLL_SECONDS=0.2,
        # most tests are not about verification: the email-flow tests require it
        EMAIL_VERIFICATION="optional",
        ISSUER="https://auth.example.test",
        KEY_ENCRYPTION_KEY=key_encryption_key,
        # argon2id at its cheapest: the tests are about behaviour, not cost
        PASSWORD_HASH_TIME_COST=1,
        PASSWORD_HASH_MEMORY_KIB=1024,
        PASSWORD_HASH_PARALLELISM=1,
        # generous limits: only the rate-limit tests tighten them
        LOGIN_RATE_LIMIT_PER_ACCOUNT="1000/minute",
        LOGIN_RATE_LIMIT_PER_IP="1000/minute",
        LOGIN_FAILURE_RATE_LIMIT_PER_ACCOUNT="1000/minute",
        REFRESH_RATE_LIMIT_PER_IP="10000/minute",
        REGISTER_RATE_LIMIT_PER_IP="1000/minute",
    )


@pytest.fixture
async def auth(settings: Settings) -> AsyncIterator[Auth]:
    """auth running in process on a clock the test moves (`session_support.running`)."""
    async with running(settings) as running_auth:
        yield running_auth


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://auth.internal"
        ) as http,
    ):
        yield http


async def register(client: httpx.AsyncClient, email: str, password: str) -> dict[str, object]:
    response = await client.post("/v1/users", json={"email": email, "password": password})
    assert response.status_code == 202, response.text
    body: dict[str, object] = response.json()
    return body


async def log_in(
    client: httpx.AsyncClient, email: str, password: str, client_id: str = "web"
) -> httpx.Response:
    """Log in like the client would: web first fetches a login-CSRF token and echoes it."""
    headers = {}
    if client_id == "web":
        csrf = (await client.get("/v1/auth/csrf")).json()["csrf_token"]
        # sent explicitly: over http:// the jar withholds the Secure cookie an https issuer sets
        headers = {"X-CSRF-Token": csrf, "Cookie": f"tessera_csrf={csrf}"}
    return await client.post(
        "/v1/auth/login",
        json={"email": email, "password": password, "client_id": client_id},
        headers=headers,
    )
