"""Alembic builds the schema from nothing on SQLite and PostgreSQL, and re-running is a no-op."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
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


USERS_AT_0004 = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("email_normalized", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("roles", sa.JSON()),
    sa.column("token_version", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


async def test_migration_0005_marks_every_existing_user_verified(empty_database_url: str) -> None:
    # Users who signed up before verification existed keep signing in (DESIGN §11).
    await MIGRATIONS.upgrade(empty_database_url, "0004_sessions_and_audit")
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                USERS_AT_0004.insert().values(
                    id=uuid.uuid4(),
                    email="ada@example.com",
                    email_normalized="ada@example.com",
                    password_hash="x",
                    roles=["user"],
                    token_version=1,
                    created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                )
            )
        await MIGRATIONS.upgrade(empty_database_url)

        async with engine.connect() as connection:
            verified = await connection.execute(text("SELECT email_verified_at FROM users"))
            (verified_at,) = verified.one()
    finally:
        await engine.dispose()
    assert verified_at is not None
    assert str(verified_at).startswith("2026-01-02 03:04:05")


SESSIONS_AT_0005 = sa.table(
    "sessions",
    sa.column("id", sa.String()),
    sa.column("user_id", sa.Uuid()),
    sa.column("client_id", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("last_used_at", sa.DateTime(timezone=True)),
)


async def test_migration_0006_says_existing_sessions_signed_in_with_a_password_at_creation(
    empty_database_url: str,
) -> None:
    await MIGRATIONS.upgrade(empty_database_url, "0005_email_and_mail")
    engine = create_engine(empty_database_url)
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    user_id = uuid.uuid4()
    try:
        async with engine.begin() as connection:
            await connection.execute(
                USERS_AT_0004.insert().values(
                    id=user_id,
                    email="ada@example.com",
                    email_normalized="ada@example.com",
                    password_hash="x",
                    roles=["user"],
                    token_version=1,
                    created_at=created,
                )
            )
            await connection.execute(
                SESSIONS_AT_0005.insert().values(
                    id="s-1",
                    user_id=user_id,
                    client_id="web",
                    created_at=created,
                    last_used_at=created,
                )
            )
        await MIGRATIONS.upgrade(empty_database_url)

        async with engine.connect() as connection:
            row = (
                await connection.execute(text("SELECT authenticated_at, acr, amr FROM sessions"))
            ).one()
    finally:
        await engine.dispose()
    assert str(row[0]).startswith("2026-01-02 03:04:05")
    assert row[1] == "urn:tessera:acr:pwd"
    assert row[2] in (["pwd"], '["pwd"]')
