"""Newest-first paging over real SQL, with an injected clock (no sleeping)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from billing_service.adapters.repository import SqlInvoiceStorage
from billing_service.errors import InvalidPageTokenError
from billing_service.use_cases import Invoices
from tessera.storage import Database


@dataclass(frozen=True)
class User:
    """A user as orders presents them after token exchange (act: orders, billing scopes)."""

    sub: str
    actor: str | None = "orders"
    sid: str | None = "session-1"
    is_admin: bool = False
    auth_time: int | None = None
    acr: str | None = None

    def has_scope(self, scope: str, /) -> bool:
        return scope in {"billing:charge", "billing:refund", "invoices:read"}


def _ticking_clock() -> Iterator[datetime]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return (start + timedelta(seconds=n) for n in count())


async def test_pages_walk_every_invoice_newest_first_without_repeats(sqlite_url: str) -> None:
    database = Database.connect(sqlite_url)
    ticks = _ticking_clock()
    invoices = Invoices(
        SqlInvoiceStorage(database.sessions), clock=lambda: next(ticks), page_size_max=2
    )
    alice = User("alice")
    try:
        for n in range(5):
            await invoices.charge(
                alice, order_id=f"o{n}", amount_cents=100, currency="EUR", idempotency_key=f"o{n}"
            )
        seen: list[str] = []
        token = ""
        while True:
            page = await invoices.list(alice, page_size=50, page_token=token)
            assert len(page.invoices) <= 2
            seen += [invoice.order_id for invoice in page.invoices]
            token = page.next_page_token
            if not token:
                break
        assert seen == ["o4", "o3", "o2", "o1", "o0"]

        with pytest.raises(InvalidPageTokenError):
            await invoices.list(alice, page_size=2, page_token="garbage!")
    finally:
        await database.dispose()
