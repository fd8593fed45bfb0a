"""Runs orders's Alembic migrations with a config built in code (works from any cwd)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from orders_service.adapters.database import ensure_sqlite_directory

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config for `database_url`, pointing at services/orders/migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    """Apply every migration (blocking: call it off the event loop)."""
    ensure_sqlite_directory(database_url)
    command.upgrade(alembic_config(database_url), "head")
