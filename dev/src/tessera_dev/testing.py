"""Fixtures the services' own tests share: RSA keys, tokens as auth signs them, fresh databases.

A pytest plugin, loaded for every test run (`-p tessera_dev.testing` in the root
pyproject.toml). Nothing here is a mock: tokens are real RS256 JWTs with the claims of
DESIGN §2, verified by the services' real `TokenVerifier` against `keys` (what a loaded JWKS
would give); databases are a fresh SQLite file or a fresh PostgreSQL database, dropped after.

    async def test_orders_need_a_token(issue_token: IssueToken, ...) -> None:
        token = issue_token("user-1", scope="orders:read")

Every throwaway database comes from `throwaway_database`: empty, or already at the head of a
service's migrations. A migrated one is a copy of a template migrated once per test session
(`throwaway_databases`): a SQLite file copied, or `CREATE DATABASE ... TEMPLATE` on PostgreSQL
(about 0.1 s, where running Alembic per test took 0.3 to 0.5 s with its own CREATE DATABASE).
PostgreSQL databases are made one ahead, in a thread, while the previous test runs. A test about
the migrations themselves takes an empty database and runs them.

    async with throwaway_database(
        "auth", "postgresql", tmp_path, throwaway_databases, migrations=MIGRATIONS
    ) as url:
        ...  # auth's schema, at head, in a database nobody else uses
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import asyncpg
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tessera import StaticKeySource

if TYPE_CHECKING:  # SQLAlchemy and Alembic load only when a test migrates
    from tessera.storage import Migrations

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


Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")
SQLITE_FILE_SUFFIXES = ("", "-wal", "-shm")
"""A SQLite database's files: the database, and the WAL and its index should any be left."""


def postgres_url(name: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _admin(*statements: str) -> None:
    """Run `statements` on the server's maintenance database, on a connection of their own."""
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        for statement in statements:
            await admin.execute(statement)
    finally:
        await admin.close()


def _new_database_name(label: str) -> str:
    return f"{label}_test_{uuid.uuid4().hex[:12]}"


async def _create_database(name: str, template: str | None) -> str:
    """CREATE DATABASE `name`: empty, or a copy of `template` (PostgreSQL 15's default WAL_LOG
    strategy: faster here than FILE_COPY, whose checkpoint per copy costs more than logging a
    few MB)."""
    copy_of = f' TEMPLATE "{template}"' if template is not None else ""
    await _admin(f'CREATE DATABASE "{name}"{copy_of}')
    return name


async def _drop_databases(*names: str) -> None:
    if names:
        await _admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names))


@asynccontextmanager
async def fresh_postgres_database(label: str, *, template: str | None = None) -> AsyncIterator[str]:
    """A PostgreSQL database nobody else uses (a unique name), dropped afterwards; its URL.

    Empty, or with `template` (a database's name) a copy of that database."""
    name = await _create_database(_new_database_name(label), template)
    try:
        yield postgres_url(name)
    finally:
        await _drop_databases(name)


class ThrowawayDatabases:
    """Where a test session's throwaway databases come from (`throwaway_database`).

    Templates: each service's migrations are applied once per session and backend, on first
    use: to a SQLite file in `directory` (closed, only ever copied), and to a PostgreSQL
    database nobody connects to (ALLOW_CONNECTIONS false, so `CREATE DATABASE ... TEMPLATE`
    never waits for a session of its own to end).

    PostgreSQL copies are made one ahead: taking a database (empty, or a template's copy)
    starts making the next one of its kind in a thread of its own, so a CREATE DATABASE (most
    of it writing and syncing the WAL) runs while the test that took the previous one does.
    `close` drops what is left: the copies made ahead and the templates."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sqlite_templates: dict[Path, Path] = {}
        self._postgres_templates: dict[Path, str] = {}
        self._ahead: dict[tuple[str, str | None], Future[str]] = {}
        self._maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="throwaway-databases")

    async def sqlite_template(self, migrations: Migrations) -> Path:
        """A SQLite file at the head of `migrations`, closed (not to be opened: copy it)."""
        if migrations.directory not in self._sqlite_templates:
            path = self.directory / f"template-{len(self._sqlite_templates)}" / "service.db"
            await migrations.upgrade(sqlite_url(path))  # disposes its engine: the file is closed
            self._sqlite_templates[migrations.directory] = path
        return self._sqlite_templates[migrations.directory]

    async def postgres_template(self, migrations: Migrations) -> str:
        """The name of a PostgreSQL database at the head of `migrations`."""
        if migrations.directory not in self._postgres_templates:
            name = f"tessera_template_{uuid.uuid4().hex[:12]}"
            await _create_database(name, None)
            self._postgres_templates[migrations.directory] = name  # dropped by `close`
            await migrations.upgrade(postgres_url(name))
            await _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        return self._postgres_templates[migrations.directory]

    async def new_postgres(self, label: str, template: str | None) -> str:
        """The name of a PostgreSQL database nobody else uses (the caller drops it): empty, or a
        copy of `template`."""
        kind = (label, template)
        made = self._ahead.pop(kind, None) or self._make(kind)
        name = await asyncio.wrap_future(made)
        self._ahead[kind] = self._make(kind)
        return name

    def _make(self, kind: tuple[str, str | None]) -> Future[str]:
        return self._maker.submit(self._create_in_thread, *kind)

    @staticmethod
    def _create_in_thread(label: str, template: str | None) -> str:
        return asyncio.run(_create_database(_new_database_name(label), template))

    def close(self) -> None:
        """Drop the copies made ahead and the templates (waits for a copy being made)."""
        ahead = [made.result() for made in self._ahead.values() if made.exception() is None]
        self._ahead = {}
        self._maker.shutdown()
        templates, self._postgres_templates = list(self._postgres_templates.values()), {}
        asyncio.run(_drop_databases(*ahead, *templates))


@pytest.fixture(scope="session")
def throwaway_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayDatabases]:
    """The session's templates and PostgreSQL copies made ahead (`ThrowawayDatabases`)."""
    databases = ThrowawayDatabases(tmp_path_factory.mktemp("database-templates"))
    try:
        yield databases
    finally:
        databases.close()


@asynccontextmanager
async def throwaway_database(
    label: str,
    backend: Backend,
    directory: Path,
    databases: ThrowawayDatabases,
    *,
    migrations: Migrations | None = None,
) -> AsyncIterator[str]:
    """A database nobody else uses, and its URL: a SQLite file `<label>.db` in `directory` (the
    test's tmp_path), or a PostgreSQL database dropped afterwards.

    Empty without `migrations`; with them, at their head: a copy of the session's template."""
    if backend == "sqlite":
        path = directory / f"{label}.db"
        if migrations is not None:
            copied = await databases.sqlite_template(migrations)
            for suffix in SQLITE_FILE_SUFFIXES:  # shutil.copy keeps the file's mode (0600)
                if (source := copied.with_name(copied.name + suffix)).exists():
                    shutil.copy(source, path.with_name(path.name + suffix))
        yield sqlite_url(path)
        return
    schema = None if migrations is None else await databases.postgres_template(migrations)
    name = await databases.new_postgres(label, schema)
    try:
        yield postgres_url(name)
    finally:
        await _drop_databases(name)


@pytest.fixture(params=BACKENDS)
def database_backend(request: pytest.FixtureRequest) -> Backend:
    """Each test using it runs once per backend; a test narrows them with
    `@pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)`."""
    backend: Backend = request.param
    return backend


@pytest.fixture
async def database_url(
    database_backend: Backend, tmp_path: Path, throwaway_databases: ThrowawayDatabases
) -> AsyncIterator[str]:
    """Each test using it runs on a fresh, empty SQLite file and PostgreSQL database."""
    async with throwaway_database(
        "service", database_backend, tmp_path, throwaway_databases
    ) as url:
        yield url
