"""A rotation reaches its rows by key however long its family is (docs/performance.md): the
clearing of the previous sealed successor goes through the partial index of the rows that
still hold one, not through the family's 2,000 (or 26,000) others. Checked with the databases'
own EXPLAIN, after ANALYZE (what autovacuum keeps up to date in production)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from auth_service.adapters.models import RefreshTokenRow
from auth_service.domain.refresh_tokens import generate_refresh_token, hash_refresh_token
from sqlalchemy import event, insert, text

from ..session_support import Auth, mobile_login, refresh_mobile, register  # noqa: TID252

CLEAR_SEALED = (
    "UPDATE refresh_tokens SET sealed_successor = NULL"
    " WHERE session_id = '{sid}' AND sealed_successor IS NOT NULL"
)


async def test_clearing_the_sealed_successor_uses_the_partial_index_not_the_family(
    auth: Auth,
) -> None:
    await register(auth.http, "ada@example.com")
    login = await mobile_login(auth.http, "ada@example.com")
    sid = jwt.decode(login["access_token"], options={"verify_signature": False})["sid"]
    now = datetime.now(UTC)
    async with auth.runtime.storage.session_factory() as db, db.begin():
        await db.execute(
            insert(RefreshTokenRow),
            [
                {
                    "token_hash": hash_refresh_token(generate_refresh_token()),
                    "session_id": sid,
                    "generation": -n,
                    "created_at": now - timedelta(minutes=5 * n),
                    "used_at": now - timedelta(minutes=5 * n - 1),
                }
                for n in range(1, 2_001)
            ],
        )
    assert (await refresh_mobile(auth.http, login["refresh_token"])).status_code == 200
    engine = auth.runtime.storage.engine
    postgres = engine.dialect.name == "postgresql"
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE refresh_tokens" if postgres else "ANALYZE"))
    explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
    async with engine.connect() as connection:
        plan = " ".join(
            str(part)
            for row in await connection.execute(text(explain + CLEAR_SEALED.format(sid=sid)))
            for part in row
        )

    assert "ix_refresh_tokens_sealed_successor" in plan, plan


async def test_a_rotation_is_two_statements_on_postgresql(auth: Auth) -> None:
    """The hot path (docs/performance.md): PostgreSQL is sent one read of token, session and
    user, then one statement for every write (data-modifying CTEs, guarded by "still unused"),
    each its own transaction: no BEGIN, no COMMIT. SQLite, which has no DML in CTEs, reads,
    then runs the five writes one by one inside its write lock (BEGIN IMMEDIATE)."""
    await register(auth.http, "ada@example.com")
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    engine = auth.runtime.storage.engine
    postgresql = engine.dialect.name == "postgresql"
    uses: list[list[str]] = []  # what each checkout of a pooled connection sent
    sending: dict[int, list[str]] = {}  # each connection's latest use (asyncpg logs a little late)
    logging: set[int] = set()

    def note(connection_key: int, statement: str) -> None:
        sent = sending.get(connection_key)
        if sent is not None:  # a use that began before the listening did is not counted
            sent.append(statement)

    def checked_out(dbapi_connection: Any, *_: Any) -> None:
        key = id(dbapi_connection)
        sent: list[str] = []
        sending[key] = sent
        uses.append(sent)
        if postgresql and key not in logging:  # asyncpg's own queries: BEGIN, COMMIT, ...
            logging.add(key)
            dbapi_connection.driver_connection.add_query_logger(
                lambda query: note(key, query.query)
            )

    def executed(connection: Any, _: Any, statement: str, *__: Any) -> None:
        note(id(connection.connection.dbapi_connection), statement)

    listeners: dict[str, Callable[..., None]] = {
        "checkout": checked_out,
        "before_cursor_execute": executed,
    }
    for name, listener in listeners.items():
        event.listen(engine.sync_engine, name, listener)
    try:
        assert (await refresh_mobile(auth.http, token)).status_code == 200
    finally:
        for name, listener in listeners.items():
            event.remove(engine.sync_engine, name, listener)
        await asyncio.sleep(0)  # asyncpg calls its query loggers soon after, not at once
        sending.clear()  # what the query loggers see from now on is not counted
        await engine.dispose()  # no pooled connection keeps a logger

    # the mail worker and the key ring share the engine; only the rotation's use counts
    (rotation,) = [sent for sent in uses if any("refresh_tokens" in s for s in sent)]
    if postgresql:
        read, writes = rotation
        assert read.startswith("SELECT")
        assert "FOR UPDATE" not in read
        assert writes.startswith("WITH rotated AS")
    else:
        assert [statement.split()[0] for statement in rotation] == [
            "SELECT",
            "BEGIN",  # IMMEDIATE: the write lock
            "UPDATE",  # the previous sealed successor
            "UPDATE",  # the presented token, if still unused
            "INSERT",  # its successor
            "UPDATE",  # the session
            "INSERT",  # the audit row
            "COMMIT",
        ]
