"""The real auth service, in process, for driving the mobile client.

Each test gets auth's own FastAPI app (`auth_service.main.create_app`) on a fresh SQLite database
migrated by Alembic, with its lifespan running, behind `httpx.ASGITransport`. Auth's clock and the
client's clock are injected, so expiry is arranged by advancing time, never by sleeping.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from auth_service.adapters.migrations import MIGRATIONS
from auth_service.config import Settings
from auth_service.main import create_app
from pydantic import SecretStr
from tessera_mobile.client import TesseraClient
from tessera_mobile.store import TokenStore

BASE_URL = "http://tessera.test"
ACCESS_TOKEN_TTL_SECONDS = 300


class FakeClock:
    """Seconds since the epoch, moved only by the test."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingTransport(httpx.AsyncBaseTransport):
    """Passes every request to the real app, remembering the paths, so a test can count calls.

    `before_send`, when a test sets it, runs just before a request reaches the app (a test uses
    it to hold a refresh in flight while other requests catch up).
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []
        self.before_send: Callable[[httpx.Request], Awaitable[None]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.before_send is not None:
            await self.before_send(request)
        return await self.inner.handle_async_request(request)

    def count(self, path: str) -> int:
        return self.paths.count(path)


@pytest.fixture
def clock() -> FakeClock:
    """Auth's clock, and by default the client's too."""
    return FakeClock()


@pytest.fixture
def advance(clock: FakeClock) -> Callable[[float], None]:
    return clock.advance


def auth_settings(database_url: str) -> Settings:
    """Auth as in dev, with argon2id at its cheapest (these tests are about the client)."""
    return Settings(
        DATABASE_URL=database_url,
        ISSUER=BASE_URL,
        ACCESS_TOKEN_TTL_SECONDS=ACCESS_TOKEN_TTL_SECONDS,
        KEY_ENCRYPTION_KEY=SecretStr(base64.b64encode(secrets.token_bytes(32)).decode()),
        PASSWORD_HASH_MEMORY_KIB=1024,
        PASSWORD_HASH_TIME_COST=1,
        PASSWORD_HASH_PARALLELISM=1,
        # these tests are about the client, not verification (test_against_real_processes
        # verifies through the inbox); mail goes nowhere: port 9 (discard) refuses it
        EMAIL_VERIFICATION="optional",
        SMTP_URL="smtp://127.0.0.1:9",
    )


@pytest.fixture
def auth_database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"


@pytest.fixture
async def auth_transport(
    auth_database_url: str, clock: FakeClock
) -> AsyncIterator[CountingTransport]:
    """Auth's app, lifespan running, on a fresh Alembic-migrated SQLite database."""
    await MIGRATIONS.upgrade(auth_database_url)
    app = create_app(auth_settings(auth_database_url), clock=clock)
    async with app.router.lifespan_context(app):
        yield CountingTransport(httpx.ASGITransport(app=app))


@pytest.fixture
def sent_paths(auth_transport: CountingTransport) -> list[str]:
    """Every path the clients sent, in order (the refresh request included)."""
    return auth_transport.paths


RequestHook = Callable[[httpx.Request], Awaitable[None]]


@pytest.fixture
def hold_requests(auth_transport: CountingTransport) -> Callable[[RequestHook], None]:
    """`hold_requests(hook)`: every later request awaits `hook(request)` before auth sees it."""

    def install(hook: RequestHook) -> None:
        auth_transport.before_send = hook

    return install


@pytest.fixture
def device_store(tmp_path: Path) -> TokenStore:
    """The refresh-token file of "the phone"; a second client on it is the app after a restart."""
    return TokenStore(tmp_path / "device" / "refresh_token")


@pytest.fixture
def make_client(
    auth_transport: CountingTransport, device_store: TokenStore, clock: FakeClock
) -> Callable[..., TesseraClient]:
    """`make_client(store=..., clock=..., transport=...)`: a client (an app process) against the
    real auth; a test that stands in for another service passes a transport wrapping auth's."""

    def make(
        *,
        store: TokenStore | None = None,
        clock: Callable[[], float] = clock,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> TesseraClient:
        return TesseraClient(
            base_url=BASE_URL,
            store=store or device_store,
            transport=transport or auth_transport,
            clock=clock,
        )

    return make


@pytest.fixture
def new_account() -> Callable[[], tuple[str, str]]:
    def make() -> tuple[str, str]:
        return f"mobile-{secrets.token_hex(4)}@example.org", f"pw-{secrets.token_urlsafe(12)}"

    return make


@pytest.fixture
def access_token_ttl() -> int:
    return ACCESS_TOKEN_TTL_SECONDS


@pytest.fixture
async def token_endpoint(auth_transport: CountingTransport) -> AsyncIterator[httpx.AsyncClient]:
    """A bare client for presenting a refresh token by hand, as an attacker or a test would."""
    async with httpx.AsyncClient(transport=auth_transport, base_url=BASE_URL) as client:
        yield client
