"""A rotation reaches its rows by key however long its family is (docs/performance.md): the
clearing of the previous sealed successor goes through the partial index of the rows that
still hold one, not through the family's 2,000 (or 26,000) others. Checked with the databases'
own EXPLAIN, after ANALYZE (what autovacuum keeps up to date in production)."""

from __future__ import annotations

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
    """The hot path (docs/performance.md): one locking read of token, session and user, then
    one statement for every write on PostgreSQL (data-modifying CTEs); SQLite, which has no
    DML in CTEs, runs the five writes one by one after its BEGIN IMMEDIATE and read."""
    await register(auth.http, "ada@example.com")
    token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
    engine = auth.runtime.storage.engine
    sent: list[str] = []

    def note(*arguments: Any) -> None:
        sent.append(arguments[2])  # (connection, cursor, statement, ...)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        assert (await refresh_mobile(auth.http, token)).status_code == 200
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)

    # the mail worker and the key ring share the engine; only the rotation's statements count
    rotation_tables = ("refresh_tokens", "sessions", "audit_log")
    sent = [s for s in sent if s.startswith("BEGIN") or any(t in s for t in rotation_tables)]
    if engine.dialect.name == "postgresql":
        lock, writes = sent
        assert lock.endswith("FOR UPDATE OF refresh_tokens")
        assert writes.startswith("WITH cleared AS")
    else:
        assert [statement.split()[0] for statement in sent] == [
            "BEGIN",  # IMMEDIATE: the write lock, before the read
            "SELECT",
            "UPDATE",  # the previous sealed successor
            "UPDATE",  # the presented token
            "INSERT",  # its successor
            "UPDATE",  # the session
            "INSERT",  # the audit row
        ]
