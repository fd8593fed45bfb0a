"""What billing's use cases need from storage, as Protocols the adapters implement.

`InvoiceStorage.transaction()` opens one database transaction: it commits when the block
succeeds and rolls back when it raises, and hands out the `InvoiceStore` bound to it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from billing_service.domain.invoices import Invoice
from billing_service.domain.paging import PageCursor


class InvoiceStore(Protocol):
    """Invoice persistence inside one transaction."""

    async def add_or_get_existing(self, invoice: Invoice) -> Invoice:
        """Store `invoice` unless its (user, idempotency key) exists; return the stored one."""
        ...

    async def get(self, invoice_id: str) -> Invoice | None: ...

    async def save_refund(self, invoice: Invoice) -> Invoice:
        """Record a refund unless one is already recorded; return the stored invoice."""
        ...

    async def list_for_user(
        self, user_id: str, *, after: PageCursor | None, limit: int
    ) -> list[Invoice]:
        """The user's invoices, newest first, strictly after `after`."""
        ...


class InvoiceStorage(Protocol):
    """Opens transactions over billing's database."""

    def transaction(self) -> AbstractAsyncContextManager[InvoiceStore]: ...
