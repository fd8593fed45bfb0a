"""Alembic environment: async engines, SQLite and PostgreSQL.

`auth_service.adapters.migrations.upgrade_database` hands us an open connection; run through the
`alembic` command line instead, we open one ourselves from the configured or `Settings` URL.
"""

from __future__ import annotations

import asyncio

from alembic import context
from auth_service.adapters.database import create_engine
from auth_service.adapters.models import Base
from auth_service.config import Settings
from sqlalchemy.engine import Connection

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    database_url = config.attributes.get("database_url") or Settings().DATABASE_URL
    asyncio.run(run_with_own_engine(database_url))


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported")
main()
