"""A rotation's writes, and its common case in two statements without a unit of work (the
refresh hot path: docs/performance.md, ADR 0016).

A unit of work costs two round trips of its own, BEGIN and COMMIT, as many as the rotation's
read and write. A `RotationConnection` runs the read, and the write guarded by "the presented
token is still unused", each as its own transaction. On PostgreSQL the write is one statement
(`RECORD_ROTATION`), and both run on asyncpg itself (`DriverStatement`: SQLAlchemy's per-call
machinery cost more than the statements), so PostgreSQL sees two statements and nothing else;
SQLite takes its write lock (`BEGIN IMMEDIATE`) around its five. A request that loses the race
between the two (another one used the token in between) has written nothing;
`RefreshTokens.rotate` then decides under the row lock, as for any used token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Self

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from auth_service.adapters.audit_log import audit_values
from auth_service.adapters.driver_statements import DriverStatement
from auth_service.adapters.rotation_statements import (
    AUDIT_PARAMETER,
    MARK_ROTATED,
    READ_WITH_SESSION,
    RECORD_ROTATION,
    ROTATION_STATEMENTS,
    presented_token_of,
)
from auth_service.domain.ports import RotationConnection
from auth_service.domain.sessions import PresentedToken, Rotation

CONNECTION_LOST = (
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    OSError,
    TimeoutError,
)
"""The driver's errors that leave a connection unusable (what SQLAlchemy calls a disconnect)."""


def rotation_values(rotation: Rotation) -> dict[str, Any]:
    """The parameters of the rotation's statements."""
    audit = {AUDIT_PARAMETER + name: value for name, value in audit_values(rotation.audit).items()}
    return {
        "family": rotation.presented.session_id,
        "presented_hash": rotation.presented.token_hash,
        "at": rotation.at,
        "successor": rotation.successor.token_hash,
        "sealed": rotation.sealed_successor,
        "successor_generation": rotation.successor.generation,
        **audit,
    }


async def write_rotation(db: AsyncConnection, rotation: Rotation) -> bool:
    """Write `rotation` if its presented token is still unused; False if it is not (on SQLite
    the statements before that check ran: the caller's transaction must not commit)."""
    values = rotation_values(rotation)
    if db.dialect.name == "postgresql":
        return (await db.execute(RECORD_ROTATION, values)).first() is not None
    for statement in ROTATION_STATEMENTS:
        result = await db.execute(statement, values)
        if statement is MARK_ROTATED and result.rowcount == 0:
            return False
    return True


class PostgresRotationConnection:
    """`RotationConnection` on PostgreSQL: a pooled connection, its two statements run by
    asyncpg itself (`DriverStatement`), so each is its own transaction and nothing else is
    sent. A connection a statement failed on is not trusted again: the pool replaces it."""

    def __init__(self, engine: AsyncEngine, read: DriverStatement, write: DriverStatement) -> None:
        self._engine = engine
        self._read = read
        self._write = write
        self._pooled: PoolProxiedConnection | None = None

    async def __aenter__(self) -> Self:
        self._pooled = await self._engine.raw_connection()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._pooled is not None
        pooled, self._pooled = self._pooled, None
        await greenlet_spawn(pooled.close)  # back to the pool (its checkin may await)

    async def find(self, token_hash: bytes) -> PresentedToken | None:
        row = await self._fetch(self._read, {"presented_hash": token_hash})
        return presented_token_of(self._read.row(row)) if row is not None else None

    async def rotate_if_unused(self, rotation: Rotation) -> bool:
        return await self._fetch(self._write, rotation_values(rotation)) is not None

    async def _fetch(self, statement: DriverStatement, values: dict[str, Any]) -> Any:
        """The statement's row (or None), as SQLAlchemy would fail: a lost connection is
        invalidated (so is one a cancellation interrupted mid-statement); every database error
        is raised as SQLAlchemy's, a storage failure answered 503."""
        pooled = self._pooled
        assert pooled is not None
        driver = pooled.driver_connection
        assert driver is not None
        arguments = statement.arguments(values)  # a bad value is a bug, not the database's
        try:
            return await driver.fetchrow(statement.sql, *arguments)
        except (*CONNECTION_LOST, asyncpg.PostgresError) as error:
            # a server that ended the session (restart, admin) answers with an error, then closes
            if isinstance(error, CONNECTION_LOST) or driver.is_closed():
                pooled.invalidate(error)
                raise OperationalError(statement.sql, None, error) from error
            raise DatabaseError(statement.sql, None, error) from error  # the connection is fine
        except asyncio.CancelledError:
            pooled.invalidate()  # its protocol may be mid-statement: never handed out again
            raise


class SqliteRotationConnection:
    """`RotationConnection` on SQLite: a pooled connection in autocommit mode; the write takes
    the database's write lock (`BEGIN IMMEDIATE`) around its five statements."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        self._connection = await self._engine.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._connection is not None
        await self._connection.close()
        self._connection = None

    async def find(self, token_hash: bytes) -> PresentedToken | None:
        assert self._connection is not None
        found = await self._connection.execute(READ_WITH_SESSION, {"presented_hash": token_hash})
        row = found.first()
        return presented_token_of(row) if row is not None else None

    async def rotate_if_unused(self, rotation: Rotation) -> bool:
        connection = self._connection
        assert connection is not None
        await connection.execute(text("BEGIN IMMEDIATE"))
        written = await write_rotation(connection, rotation)
        await connection.execute(text("COMMIT" if written else "ROLLBACK"))
        return written


def rotation_connections(engine: AsyncEngine) -> Callable[[], RotationConnection]:
    """Opens `RotationConnection`s on `engine`'s pool, for its database."""
    if engine.dialect.name == "postgresql":
        read = DriverStatement.compile(READ_WITH_SESSION, engine.dialect)
        write = DriverStatement.compile(RECORD_ROTATION, engine.dialect)
        return lambda: PostgresRotationConnection(engine, read, write)
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    return lambda: SqliteRotationConnection(autocommit)
