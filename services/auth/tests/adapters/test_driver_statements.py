"""The rotation's statements as PostgreSQL's driver runs them (`DriverStatement`,
`PostgresRotationConnection`): SQLAlchemy's SQL and conversions, without its per-call
machinery, and a failed connection never handed out again."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from auth_service.adapters.driver_statements import DriverStatement
from auth_service.adapters.rotation_statements import READ_WITH_SESSION, RECORD_ROTATION
from auth_service.adapters.rotations import rotation_connections
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from tessera.storage import STORAGE_FAILURES, create_engine
from tessera_dev.testing import POSTGRES_ADMIN_DSN

_DEFAULTED = Table(
    "defaulted",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("stamp", Integer, default=lambda: 7, onupdate=lambda: 8),
)
POSTGRESQL = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1/unused").dialect
VALUES = {
    "family": "s1",
    "presented_hash": b"p" * 32,
    "at": datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
    "successor": b"s" * 32,
    "sealed": None,
    "successor_generation": 2,
    "audit_occurred_at": datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
    "audit_event": "refresh",
    "audit_user_id": None,
    "audit_actor_id": None,
    "audit_session_id": "s1",
    "audit_client_id": "mobile",
    "audit_ip": None,
    "audit_user_agent": None,
    "audit_detail": {"generation": 2},
}


def test_the_arguments_follow_the_compiled_sql_and_are_converted_as_sqlalchemy_would() -> None:
    write = DriverStatement.compile(RECORD_ROTATION, POSTGRESQL)
    names = [name for name, _ in write.parameters]

    arguments = write.arguments(VALUES)

    assert f"${names.index('presented_hash') + 1}::BYTEA" in write.sql
    assert arguments[names.index("presented_hash")] == b"p" * 32
    assert arguments[names.index("audit_detail")] == '{"generation": 2}'  # JSON, serialised
    assert arguments[names.index("successor_generation")] == 2
    assert len(arguments) == len(set(re.findall(r"\$(\d+)", write.sql)))


def test_a_missing_value_or_a_naive_datetime_is_refused_not_sent() -> None:
    write = DriverStatement.compile(RECORD_ROTATION, POSTGRESQL)

    with pytest.raises(KeyError, match="successor_generation"):
        write.arguments({k: v for k, v in VALUES.items() if k != "successor_generation"})
    with pytest.raises(ValueError, match="naive datetime"):
        write.arguments(VALUES | {"at": datetime(2026, 12, 7, 9, 0)})


def test_a_read_names_each_column_by_its_label() -> None:
    read = DriverStatement.compile(READ_WITH_SESSION, POSTGRESQL)

    assert [name for name, _ in read.columns][:2] == ["t_token_hash", "t_session_id"]
    assert read.arguments({"presented_hash": b"h"}) == [b"h"]


@pytest.mark.parametrize("database_backend", ["postgresql"], indirect=True)
async def test_a_connection_whose_statement_failed_is_replaced_and_the_failure_is_a_503(
    database_url: str,
) -> None:
    """A backend that died under a connection used a moment ago (no ping at checkout): the
    statement fails as a storage failure (answered 503), and the pool never hands that
    connection out again."""
    engine = create_engine(database_url, pool_size=1)
    connections = rotation_connections(engine)
    try:
        async with connections() as db:
            assert await db.find(b"x" * 32) is None
        pooled = await engine.raw_connection()
        driver = pooled.driver_connection
        assert driver is not None
        backend = driver.get_server_pid()
        pooled.close()
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", backend)
        finally:
            await admin.close()
        await asyncio.sleep(0.1)

        with pytest.raises(OperationalError) as failed:
            async with connections() as db:
                await db.find(b"x" * 32)
        assert isinstance(failed.value, STORAGE_FAILURES)
        async with connections() as db:
            assert await db.find(b"x" * 32) is None  # a fresh connection
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("statement", "refused"),
    [
        (insert(_DEFAULTED).values(id=bindparam("id")), "default of"),
        (update(_DEFAULTED).values(id=bindparam("id")), "onupdate of"),
        (select(_DEFAULTED).where(_DEFAULTED.c.id.in_([1, 2])), "expanding parameter"),
        (
            select(_DEFAULTED).where(_DEFAULTED.c.id == bindparam("x", callable_=lambda: 1)),
            "computed",
        ),
    ],
)
def test_a_statement_whose_values_sqlalchemy_computes_per_call_is_refused(
    statement: Any, refused: str
) -> None:
    """Sent as it is, such a value would be NULL (or the SQL would not render): the driver path
    and the locked path, which runs through SQLAlchemy, would write different rows."""
    with pytest.raises(ValueError, match=refused):
        DriverStatement.compile(statement, POSTGRESQL)
