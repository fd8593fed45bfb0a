"""Fixtures: fresh databases (a SQLite file, and a PostgreSQL database created and dropped per
test), at the head of auth's Alembic migrations, and the app served in process over httpx's ASGI
transport.

`database_url` is a copy of a database migrated once per test session (`tessera_dev.testing`'s
`throwaway_database`); `empty_database_url` is a truly empty one, for the tests of the
migrations themselves. A test narrows the backends with
`@pytest.mark.parametrize("database_backend", ["postgresql"], indirect=True)`."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from auth_service.adapters.migrations import MIGRATIONS
from auth_service.config import Settings
from auth_service.main import create_app
from tessera_dev.mail_catcher import MailCatcher
from tessera_dev.testing import Backend, ThrowawayDatabases, throwaway_database

from .session_support import Auth, running


@pytest.fixture
async def empty_database_url(
    database_backend: Backend, tmp_path: Path, throwaway_databases: ThrowawayDatabases
) -> AsyncIterator[str]:
    """A database nobody else uses, without a table, removed afterwards."""
    async with throwaway_database("auth", database_backend, tmp_path, throwaway_databases) as url:
        yield url


@pytest.fixture
async def database_url(
    database_backend: Backend, tmp_path: Path, throwaway_databases: ThrowawayDatabases
) -> AsyncIterator[str]:
    """A database nobody else uses, at the head of auth's migrations, removed afterwards."""
    async with throwaway_database(
        "auth", database_backend, tmp_path, throwaway_databases, migrations=MIGRATIONS
    ) as url:
        yield url


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
