"""Opens a Ledger on a fresh transaction: the one place HTTP and gRPC get their use cases from."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_service.adapters.repository import SqlInvoiceStore
from billing_service.domain.ledger import Ledger


def utc_now() -> datetime:
    """The production clock (tests inject their own)."""
    return datetime.now(UTC)


def new_invoice_id() -> str:
    """Random, so invoice ids reveal nothing about volume or order."""
    return str(uuid.uuid4())


class Ledgers:
    """`async with ledgers.transaction() as ledger:` commits on success, rolls back on error."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = new_invoice_id,
        page_size_max: int = 100,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._new_id = new_id
        self._page_size_max = page_size_max

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Ledger]:
        async with self._sessions.begin() as session:
            yield Ledger(
                store=SqlInvoiceStore(session),
                clock=self._clock,
                new_id=self._new_id,
                page_size_max=self._page_size_max,
            )
