"""The SQL implementation of the domain's OrderStore; each write is its own transaction."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orders_service.adapters.models import OrderLineRow, OrderRow
from orders_service.domain.orders import Order, OrderLine, OrderStatus


def _to_order(row: OrderRow) -> Order:
    return Order(
        id=row.id,
        owner_id=row.owner_id,
        status=OrderStatus(row.status),
        currency=row.currency,
        lines=tuple(
            OrderLine(sku=line.sku, quantity=line.quantity, unit_price_cents=line.unit_price_cents)
            for line in row.lines
        ),
        created_at=row.created_at,
        invoice_id=row.invoice_id,
    )


class SqlOrderStore:
    """Orders in the orders database.

    Writes commit at once: the order must be durable before billing is called.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, order: Order) -> None:
        row = OrderRow(
            id=order.id,
            owner_id=order.owner_id,
            status=order.status.value,
            currency=order.currency,
            total_cents=order.total_cents,
            invoice_id=order.invoice_id,
            created_at=order.created_at,
            lines=[
                OrderLineRow(
                    position=position,
                    sku=line.sku,
                    quantity=line.quantity,
                    unit_price_cents=line.unit_price_cents,
                )
                for position, line in enumerate(order.lines)
            ],
        )
        async with self._sessions.begin() as session:
            session.add(row)

    async def save_payment(self, order: Order) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(OrderRow)
                .where(OrderRow.id == order.id)
                .values(status=order.status.value, invoice_id=order.invoice_id)
            )

    async def get(self, order_id: str) -> Order | None:
        async with self._sessions() as session:
            row = await session.get(OrderRow, order_id)
            return None if row is None else _to_order(row)

    async def list_for_owner(self, owner_id: str, *, limit: int) -> list[Order]:
        query = (
            select(OrderRow)
            .where(OrderRow.owner_id == owner_id)
            .order_by(OrderRow.created_at.desc(), OrderRow.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            return [_to_order(row) for row in await session.scalars(query)]
