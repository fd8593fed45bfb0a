"""auth's database: the engine, its sessions, and units of work over them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from tessera.storage import (
    DEFAULT_POOL_SIZE,
    create_engine,
    create_session_factory,
    database_is_reachable,
)

from auth_service.adapters.mail_outbox import OutboxSealer
from auth_service.adapters.unit_of_work import SqlUnitOfWork
from auth_service.domain.sessions import Revocation


@dataclass
class Storage:
    """The engine and session factory; `unit_of_work()` opens one transaction for a use case.

    `revoked`, when set, is told of every revocation a unit of work commits, right after the
    commit: this replica's own verifier applies it before the response leaves (the feed brings
    it to every other replica and service). `mail_added` likewise wakes the mail worker.
    """

    engine: AsyncEngine
    session_factory: async_sessionmaker[Any]
    revoked: Callable[[Revocation], None] | None = None
    outbox_sealer: OutboxSealer | None = None
    """Seals the mail outbox (set once the key-encryption key is loaded)."""
    mail_added: Callable[[], None] | None = None
    """Told after a commit that added to the outbox (wakes the mail worker)."""

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.session_factory,
            revoked=self.revoked,
            outbox_sealer=self.outbox_sealer,
            mail_added=self.mail_added,
        )

    async def is_reachable(self) -> bool:
        return await database_is_reachable(self.engine)


@asynccontextmanager
async def open_storage(
    database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE
) -> AsyncIterator[Storage]:
    """The database for the app's lifespan or one CLI command; disposed of afterwards."""
    engine = create_engine(database_url, pool_size=pool_size)
    try:
        yield Storage(engine, create_session_factory(engine))
    finally:
        await engine.dispose()
