"""Alembic builds the schema from nothing on SQLite and PostgreSQL, and re-running is a no-op."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from auth_service.adapters.migrations import MIGRATIONS
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from tessera.storage import create_engine


def _schema(connection: Connection) -> tuple[set[str], set[str]]:
    inspector = inspect(connection)
    indexes = {index["name"] or "" for index in inspector.get_indexes("signing_keys")}
    return set(inspector.get_table_names()), indexes


async def test_upgrade_head_creates_the_schema_and_is_idempotent(empty_database_url: str) -> None:
    await MIGRATIONS.upgrade(empty_database_url)
    await MIGRATIONS.upgrade(empty_database_url)

    engine = create_engine(empty_database_url)
    try:
        async with engine.connect() as connection:
            tables, indexes = await connection.run_sync(_schema)
            version = await connection.execute(text("SELECT version_num FROM alembic_version"))
            scripts = ScriptDirectory.from_config(MIGRATIONS.config(empty_database_url))
            assert version.scalar_one() == scripts.get_current_head()
    finally:
        await engine.dispose()
    assert {"users", "signing_keys", "alembic_version"} <= tables
    assert "uq_signing_keys_one_active" in indexes
