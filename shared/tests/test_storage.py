"""tessera.storage: SQLite files nobody else can read, rows mapped to entities by name."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from tessera.storage import create_engine, entity_from_row


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
