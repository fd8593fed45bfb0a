"""Fixtures the services' own tests share: RSA keys, tokens as auth signs them, fresh databases.

A pytest plugin, loaded for every test run (`-p tessera_dev.testing` in the root
pyproject.toml). Nothing here is a mock: tokens are real RS256 JWTs with the claims of
DESIGN §2, verified by the services' real `TokenVerifier` against `keys` (what a loaded JWKS
would give); databases are a fresh SQLite file or a fresh PostgreSQL database, dropped after.

    async def test_orders_need_a_token(issue_token: IssueToken, ...) -> None:
        token = issue_token("user-1", scope="orders:read")
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tessera import StaticKeySource

ISSUER = "http://issuer.test"
KID = "test-key-1"
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
USER_SCOPES = "orders:read orders:write invoices:read sessions"
EXCHANGED_SCOPES = "billing:charge billing:refund invoices:read"

IssueToken = Callable[..., str]


def sign_token(key: rsa.RSAPrivateKey, claims: dict[str, Any], *, kid: str = KID) -> str:
    """An RS256 access token with the headers auth puts on one."""
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


def user_claims(
    sub: str = "user-1",
    *,
    scope: str = USER_SCOPES,
    roles: tuple[str, ...] = ("user",),
    aud: tuple[str, ...] = ("auth", "orders", "billing"),
    act: str | None = None,
    client_id: str = "web",
    with_session: bool = True,
    lifetime_seconds: int = 300,
    authenticated_seconds_ago: int = 0,
) -> dict[str, Any]:
    """The claims of a user's access token (DESIGN §2), valid from now, of a session that signed
    in with a password `authenticated_seconds_ago` (DESIGN §11: `auth_time`, `acr`, `amr`)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": sub,
        "aud": list(aud),
        "exp": now + lifetime_seconds,
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
        claims |= {
            "auth_time": now - authenticated_seconds_ago,
            "acr": "urn:tessera:acr:pwd",
            "amr": ["pwd"],
        }
    if act is not None:
        claims["act"] = {"sub": act}
    return claims


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def keys(signing_key: rsa.RSAPrivateKey) -> StaticKeySource:
    """The public key of `signing_key` under `KID`: what a service's loaded JWKS would hold."""
    return StaticKeySource({KID: signing_key.public_key()})


@pytest.fixture
def issue_token(signing_key: rsa.RSAPrivateKey) -> IssueToken:
    """issue_token(sub=..., scope=..., roles=..., aud=..., act=..., key=...) -> a signed token."""

    def issue(sub: str = "user-1", *, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        return sign_token(key or signing_key, user_claims(sub, **claims))

    return issue


@pytest.fixture
def issue_exchanged_token(issue_token: IssueToken) -> IssueToken:
    """A token shaped as auth's token exchange issues it to orders for a user (DESIGN §6)."""

    def issue(sub: str = "user-1", *, scope: str = EXCHANGED_SCOPES, actor: str = "orders") -> str:
        return issue_token(sub, scope=scope, aud=("billing",), act=actor, client_id=actor)

    return issue


@asynccontextmanager
async def fresh_postgres_database(label: str) -> AsyncIterator[str]:
    """A PostgreSQL database nobody else uses (a unique name), dropped afterwards; its URL."""
    name = f"{label}_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test using it runs on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/service.db"
    else:
        async with fresh_postgres_database("service") as url:
            yield url
