"""tessera.storage: SQLite files nobody else can read, rows mapped to entities by name, and a
PostgreSQL pool that pings only connections that sat idle."""

from __future__ import annotations

import asyncio
import stat
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy import event, text
from tessera.storage import PING_AFTER_IDLE_SECONDS, create_engine, entity_from_row
from tessera_dev.testing import POSTGRES_ADMIN_DSN, fresh_postgres_database


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_sqlite_database_and_its_directory_are_private(tmp_path: Path) -> None:
    database = tmp_path / "state" / "auth.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE secrets (value TEXT)"))
            await connection.execute(text("INSERT INTO secrets VALUES ('argon2 hash')"))
        async with engine.connect() as reader:  # WAL: the -wal and -shm files exist now
            await reader.execute(text("SELECT value FROM secrets"))
            modes = {path.name: _mode(path) for path in database.parent.iterdir()}
    finally:
        await engine.dispose()

    assert _mode(database.parent) == 0o700
    assert modes == {"auth.db": 0o600, "auth.db-shm": 0o600, "auth.db-wal": 0o600}


@dataclass
class Line:
    sku: str
    quantity: int


def test_an_entity_is_read_from_the_row_attributes_of_its_field_names() -> None:
    @dataclass
    class Row:
        sku: str = "MUG"
        quantity: str = "2"
        position: int = 0

    assert entity_from_row(Line, Row(), quantity=2) == Line("MUG", 2)


async def test_a_busy_pool_pays_no_ping_and_an_idle_dead_connection_is_replaced() -> None:
    """A connection used a moment ago goes out as it is (no round trip per checkout); one that
    sat idle is pinged first, and a dead one is swapped for a fresh one the caller never sees."""
    async with fresh_postgres_database("storage") as url:
        engine = create_engine(url, pool_size=1)
        sent: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
        try:
            async with engine.connect() as connection:
                backend = await connection.scalar(text("SELECT pg_backend_pid()"))
            for _ in range(3):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            assert len(sent) == 4  # no pings between them: each checkout followed a checkin
            admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", backend)
            finally:
                await admin.close()
            await asyncio.sleep(PING_AFTER_IDLE_SECONDS * 1.2)  # idle long enough to be pinged

            async with engine.connect() as connection:
                replaced = await connection.scalar(text("SELECT pg_backend_pid()"))

            assert replaced != backend
        finally:
            await engine.dispose()
