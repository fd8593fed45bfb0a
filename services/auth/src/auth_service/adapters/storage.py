"""auth's database: the engine, its sessions, and units of work over them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from tessera.storage import create_engine, create_session_factory, database_is_reachable

from auth_service.adapters.unit_of_work import SqlUnitOfWork


@dataclass
class Storage:
    """The engine and session factory; `unit_of_work()` opens one transaction for a use case."""

    engine: AsyncEngine
    session_factory: async_sessionmaker[Any]

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.session_factory)

    async def is_reachable(self) -> bool:
        return await database_is_reachable(self.engine)


@asynccontextmanager
async def open_storage(database_url: str) -> AsyncIterator[Storage]:
    """The database for the app's lifespan or one CLI command; disposed of afterwards."""
    engine = create_engine(database_url)
    try:
        yield Storage(engine, create_session_factory(engine))
    finally:
        await engine.dispose()
