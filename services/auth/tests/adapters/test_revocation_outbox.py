"""The revocation outbox on PostgreSQL: event ids become visible in commit order, and revoking
transactions take the feed's lock last, so two of them can never deadlock.

SQLite has one writer at a time: neither question arises there (its tests are the feed's own).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from auth_service.adapters.models import RevocationEventRow, SessionRow, UserRow
from auth_service.adapters.revocation_events import record_revocation_event
from auth_service.adapters.unit_of_work import SqlUnitOfWork
from auth_service.domain.sessions import Revocation
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tessera.storage import create_engine, create_session_factory

pytestmark = pytest.mark.parametrize("database_backend", ["postgresql"], indirect=True)
BOUND_SECONDS = 30.0
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    engine = create_engine(database_url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def a_user_with_sessions(factory: async_sessionmaker[Any], count: int) -> list[str]:
    user_id = uuid.uuid4()
    ids = [str(uuid.uuid4()) for _ in range(count)]
    async with factory() as session, session.begin():
        await session.execute(
            insert(UserRow).values(
                id=user_id,
                email=f"{user_id}@example.org",
                email_normalized=f"{user_id}@example.org",
                password_hash="x",
                roles=["user"],
                token_version=1,
                created_at=NOW,
            )
        )
        for sid in ids:
            await session.execute(
                insert(SessionRow).values(
                    id=sid,
                    user_id=user_id,
                    client_id="mobile",
                    created_at=NOW,
                    last_used_at=NOW,
                )
            )
    return ids


async def revoke(uow: SqlUnitOfWork, sid: str) -> None:
    """What `revoke_session` does to the database: lock the row, then queue its event."""
    assert await uow.sessions.revoke(sid, now=NOW, reason="logout")
    await uow.revocations.record(Revocation("session", sid, 0, created_at=NOW))


async def test_logout_all_and_a_concurrent_logout_of_one_session_both_commit(
    sessions: async_sessionmaker[Any],
) -> None:
    first, second = await a_user_with_sessions(sessions, 2)
    logout_all_has_first = asyncio.Event()
    logout_has_second = asyncio.Event()

    async def logout_all() -> None:
        async with SqlUnitOfWork(sessions) as uow:
            await revoke(uow, first)
            logout_all_has_first.set()
            await logout_has_second.wait()
            # the second session's row is locked by the logout: wait for it, it is revoked
            assert not await uow.sessions.revoke(second, now=NOW, reason="logout_all")
            await uow.commit()

    async def logout_of_the_second_session() -> None:
        await logout_all_has_first.wait()
        async with SqlUnitOfWork(sessions) as uow:
            await revoke(uow, second)
            logout_has_second.set()
            await uow.commit()  # takes the feed's lock, which logout-all does not hold yet

    await asyncio.wait_for(
        asyncio.gather(logout_all(), logout_of_the_second_session()), BOUND_SECONDS
    )

    async with sessions() as session:
        events = (await session.execute(select(RevocationEventRow.value))).scalars().all()
    assert sorted(events) == sorted([first, second])


async def test_an_event_written_while_another_is_uncommitted_waits_so_ids_follow_commits(
    sessions: async_sessionmaker[Any],
) -> None:
    async def write(value: str, session: AsyncSession) -> None:
        await record_revocation_event(session, Revocation("session", value, 0, created_at=NOW))

    async with sessions() as early:
        await write("early", early)  # holds the feed lock until it commits

        async def later() -> None:
            async with sessions() as session:
                await write("later", session)
                await session.commit()

        waiting = asyncio.create_task(later())
        async with sessions() as observer:
            query = text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND wait_event = 'advisory' AND datname = current_database()"
            )
            deadline = asyncio.get_running_loop().time() + BOUND_SECONDS
            while not await observer.scalar(query):
                await observer.rollback()  # a transaction sees one snapshot of pg_stat_activity
                assert asyncio.get_running_loop().time() < deadline, "the second never waited"
                await asyncio.sleep(0.05)
        assert not waiting.done()
        await early.commit()
    await asyncio.wait_for(waiting, BOUND_SECONDS)

    async with sessions() as session:
        rows = (await session.execute(select(RevocationEventRow))).scalars().all()
    by_id = [row.value for row in sorted(rows, key=lambda row: row.id)]
    assert by_id == ["early", "later"]
