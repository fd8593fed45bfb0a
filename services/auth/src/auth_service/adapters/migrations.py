"""Run the Alembic migrations in `services/auth/migrations` against a database URL, from any cwd."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from auth_service.adapters.database import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config built in code (no alembic.ini), pointing at our migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


async def upgrade_database(database_url: str, revision: str = "head") -> None:
    """`alembic upgrade head` over the service's own async engine (SQLite or PostgreSQL)."""
    config = alembic_config(database_url)
    engine = create_engine(database_url)

    def upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade)
    finally:
        await engine.dispose()
