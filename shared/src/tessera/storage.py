"""What every service's storage adapter shares: the engine, the UTC column type, migrations.

Each service owns its database and its tables (its own `DeclarativeBase` and Alembic scripts);
this module holds only what is the same for all of them:

- `create_engine(url)`: PostgreSQL (asyncpg), pinging a pooled connection before use only
  after it sat idle (so a restarted server heals the pool, and a busy pool pays no round
  trip per checkout: `ping_connections_idle_for`), or SQLite (aiosqlite) in WAL mode with
  foreign keys on, its directory created;
- `UtcDateTime`: timezone-aware UTC datetimes on SQLite (which stores them naive) as on
  PostgreSQL;
- `Migrations`: Alembic driven in code from a service's `migrations/` directory (no
  alembic.ini), and `run_migrations`, the whole body of each service's `migrations/env.py`;
- `elected(engine, lock_key)`: whether this replica runs a round of a job meant for one replica
  at a time (auth's maintenance, orders' payment reconciler).

Example (a service's `migrations/env.py`)::

    from orders_service.adapters.models import Base
    from tessera.storage import run_migrations

    run_migrations(Base.metadata)

Imported only by adapters and wiring: the domain never sees SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.types import TypeDecorator

E = TypeVar("E")
SQLITE_BUSY_TIMEOUT_SECONDS = 15
PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection unused this long is pinged before it is handed out."""
DEFAULT_POOL_SIZE = 10
POOL_TIMEOUT_SECONDS = 10.0
"""How long a request waits for a free pooled connection before it fails (answered 503)."""
STORAGE_FAILURES: tuple[type[Exception], ...] = (SQLAlchemyError, OSError)
"""What a database that cannot be reached (or used) just now raises: answered 503, retry later."""


def ensure_sqlite_directory(database_url: str) -> None:
    """Create a SQLite file's directory (mode 0700) and the file itself (mode 0600) if missing.

    The files hold password hashes and sealed keys: no other local user may read them. SQLite
    creates its `-wal` and `-shm` files with the database file's mode.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create_engine(database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> AsyncEngine:
    """The service's engine: see the module docstring for what each backend gets.

    On PostgreSQL the pool holds `pool_size` connections and opens no more: SQLAlchemy's
    default overflow opens extra ones under load and closes each as soon as it is returned,
    so a busy service paid a connection set-up (and a backend start) per burst of requests.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        engine = _create_async_engine(
            url, pool_size=pool_size, max_overflow=0, pool_timeout=POOL_TIMEOUT_SECONDS
        )
        ping_connections_idle_for(engine, PING_AFTER_IDLE_SECONDS)
        return engine
    ensure_sqlite_directory(database_url)
    engine = _create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
        # WAL lets readers proceed while one writer commits; foreign keys are off by default.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    return engine


def ping_connections_idle_for(engine: AsyncEngine, seconds: float) -> None:
    """Ping a pooled connection at checkout if it sat unused for `seconds` or more; a dead one
    is replaced before the caller sees it (SQLAlchemy retries the checkout on
    `DisconnectionError`).

    SQLAlchemy's `pool_pre_ping` pings at every checkout: one more round trip for every
    transaction, the refresh hot path's included. A connection used a moment ago is known to
    be alive as well as a ping would tell; if the server went away in between, the statement
    fails, SQLAlchemy invalidates the whole pool, and the request is answered 503 (retry),
    as requests in flight during a restart are anyway.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(_: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:  # any driver failure: this connection is no good
            raise DisconnectionError from error


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded rows usable after commit (repositories map rows to entities)."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def database_is_reachable(engine: AsyncEngine) -> bool:
    """The readiness check: one trivial query; any failure means "not ready", never a raise."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # any driver or network failure
        return False
    return True


@contextlib.asynccontextmanager
async def elected(engine: AsyncEngine, lock_key: int) -> AsyncIterator[bool]:
    """True when this process runs the round: on PostgreSQL it holds `pg_try_advisory_lock`
    on a connection kept for the round (a loser skips it; a crashed runner's lock dies with
    its connection); on SQLite always (one process)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    async with engine.connect() as connection:
        won = bool(
            await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key})
        )
        await connection.commit()
        try:
            yield won
        finally:
            if won:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key})
                await connection.commit()


@dataclass
class Database:
    """A service's engine and session factory, disposed together at shutdown."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Database:
        """No connection is opened yet: the pool connects on first use."""
        engine = create_engine(database_url, pool_size=pool_size)
        return cls(engine, create_session_factory(engine))

    async def is_reachable(self) -> bool:
        return await database_is_reachable(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend; a naive datetime is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def entity_from_row(entity: type[E], row: object, *, prefix: str = "", **overrides: Any) -> E:
    """The domain dataclass `entity`, each field read from the row's attribute of that name
    (`prefix` + the name: a joined read labels each table's columns apart).

    `overrides` gives the fields stored in another shape (an enum's value, a JSON list):

        entity_from_row(Invoice, row, status=InvoiceStatus(row.status))
    """
    names = (field.name for field in dataclasses.fields(entity))  # type: ignore[arg-type]
    values = {name: getattr(row, prefix + name) for name in names if name not in overrides}
    return entity(**values, **overrides)


def row_values(row_type: Any, entity: object, **overrides: Any) -> dict[str, Any]:
    """The columns of the mapped `row_type` that `entity` has an attribute for, with its values
    (plus `overrides`): what an INSERT of the entity writes."""
    columns = row_type.__table__.columns.keys()
    values = {name: getattr(entity, name) for name in columns if hasattr(entity, name)}
    return {**values, **overrides}


@dataclass(frozen=True)
class Migrations:
    """A service's Alembic scripts, run in code against a database URL from any cwd."""

    directory: Path

    def config(self, database_url: str) -> Any:
        """The Alembic `Config` (typed Any: alembic is imported only when migrating)."""
        from alembic.config import Config  # slow to import; serving never needs it

        config = Config()
        config.set_main_option("script_location", str(self.directory))
        config.attributes["database_url"] = database_url
        return config

    async def upgrade(self, database_url: str, revision: str = "head") -> None:
        """`alembic upgrade head` over the service's own engine (SQLite or PostgreSQL)."""
        from alembic import command

        config = self.config(database_url)
        engine = create_engine(database_url)

        def upgrade(connection: Connection) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        try:
            async with engine.begin() as connection:
                await connection.run_sync(upgrade)
        finally:
            await engine.dispose()

    def upgrade_blocking(self, database_url: str, revision: str = "head") -> None:
        """`upgrade` for synchronous callers (the CLI, test set-up outside an event loop)."""
        asyncio.run(self.upgrade(database_url, revision))


def run_migrations(
    target_metadata: MetaData, *, default_url: Callable[[], str] | None = None
) -> None:
    """The body of a service's `migrations/env.py`.

    `Migrations.upgrade` hands Alembic an open connection; run through the `alembic` command
    line instead, it opens one from the configured URL or `default_url()` (the service's
    Settings). Offline (`--sql`) migrations are not supported: every script is run live.
    """
    from alembic import context

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        migrate(connection)
        return
    database_url = context.config.attributes.get("database_url")
    if database_url is None and default_url is not None:
        database_url = default_url()
    if not database_url:
        raise SystemExit("no database URL: run migrations through the service's `migrate`")

    async def with_own_engine() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(with_own_engine())
