"""The SQL implementation of the domain's InvoiceStorage: transactions, and the InvoiceStore
bound to one of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tessera.storage import entity_from_row, row_values

from billing_service.adapters.models import InvoiceRow
from billing_service.domain.invoices import Invoice, InvoiceStatus
from billing_service.domain.paging import PageCursor


def _to_invoice(row: InvoiceRow) -> Invoice:
    return entity_from_row(Invoice, row, status=InvoiceStatus(row.status))


class SqlInvoiceStore:
    """Invoices in billing's database. The caller owns the transaction (begin/commit)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_or_get_existing(self, invoice: Invoice) -> Invoice:
        # INSERT .. ON CONFLICT DO NOTHING, then read back: concurrent charges with one key
        # serialise on the unique index, and no savepoint or retry loop is needed.
        values = row_values(InvoiceRow, invoice, status=invoice.status.value)
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self._session.execute(
            insert(InvoiceRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["user_id", "idempotency_key"])
        )
        stored = await self._session.scalar(
            select(InvoiceRow).where(
                InvoiceRow.user_id == invoice.user_id,
                InvoiceRow.idempotency_key == invoice.idempotency_key,
            )
        )
        assert stored is not None, "the row was just inserted or already existed"
        return _to_invoice(stored)

    async def get(self, invoice_id: str) -> Invoice | None:
        row = await self._session.get(InvoiceRow, invoice_id)
        return None if row is None else _to_invoice(row)

    async def save_refund(self, invoice: Invoice) -> Invoice:
        # Conditional on the paid status, so two concurrent refunds record one refund.
        await self._session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.id == invoice.id, InvoiceRow.status == InvoiceStatus.PAID.value)
            .values(
                status=invoice.status.value,
                refunded_at=invoice.refunded_at,
                refund_reason=invoice.refund_reason,
            )
            .execution_options(synchronize_session=False)
        )
        row = await self._session.scalar(
            select(InvoiceRow)
            .where(InvoiceRow.id == invoice.id)
            .execution_options(populate_existing=True)
        )
        assert row is not None, "refunded invoices are never deleted"
        return _to_invoice(row)

    async def list_for_user(
        self, user_id: str, *, after: PageCursor | None, limit: int
    ) -> list[Invoice]:
        query = select(InvoiceRow).where(InvoiceRow.user_id == user_id)
        if after is not None:
            query = query.where(
                or_(
                    InvoiceRow.created_at < after.created_at,
                    and_(
                        InvoiceRow.created_at == after.created_at,
                        InvoiceRow.id < after.invoice_id,
                    ),
                )
            )
        query = query.order_by(InvoiceRow.created_at.desc(), InvoiceRow.id.desc()).limit(limit)
        return [_to_invoice(row) for row in await self._session.scalars(query)]


class SqlInvoiceStorage:
    """`async with storage.transaction() as store:` commits on success, rolls back on error."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlInvoiceStore]:
        async with self._sessions.begin() as session:
            yield SqlInvoiceStore(session)
