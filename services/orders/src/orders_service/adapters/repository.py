"""The SQL implementation of the domain's OrderStore; each write is its own transaction."""

from __future__ import annotations

import json
from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tessera.storage import entity_from_row, row_values

from orders_service.adapters.models import IdempotencyKeyRow, OrderLineRow, OrderRow
from orders_service.domain.idempotency import IdempotencyRecord, IdempotentRequest, RecordedAnswer
from orders_service.domain.orders import Order, OrderLine, OrderStatus


def _to_order(row: OrderRow) -> Order:
    lines = tuple(entity_from_row(OrderLine, line) for line in row.lines)
    return entity_from_row(Order, row, status=OrderStatus(row.status), lines=lines)


def _to_record(row: IdempotencyKeyRow) -> IdempotencyRecord:
    answer = None
    if row.answer_status is not None:
        headers = tuple((name, value) for name, value in json.loads(row.answer_headers or "[]"))
        answer = RecordedAnswer(row.answer_status, headers, row.answer_body or "")
    return IdempotencyRecord(
        owner_id=row.owner_id,
        key=row.idempotency_key,
        fingerprint=row.fingerprint,
        order_id=row.order_id,
        created_at=row.created_at,
        answer=answer,
    )


class SqlOrderStore:
    """Orders in the orders database.

    Writes commit at once: the order must be durable before billing is called.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, order: Order, *, idempotency: IdempotentRequest | None = None) -> bool:
        lines = [
            OrderLineRow(**row_values(OrderLineRow, line, position=position))
            for position, line in enumerate(order.lines)
        ]
        row = OrderRow(**row_values(OrderRow, order, status=order.status.value, lines=lines))
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                if idempotency is not None:
                    await session.flush()  # the order first: the key row refers to it
                    # A taken key rolls the whole transaction back, order included; on
                    # PostgreSQL a concurrent holder of the key is waited for until it commits.
                    session.add(
                        IdempotencyKeyRow(
                            owner_id=order.owner_id,
                            idempotency_key=idempotency.key,
                            fingerprint=idempotency.fingerprint,
                            order_id=order.id,
                            created_at=order.created_at,
                        )
                    )
        except IntegrityError:
            taken = idempotency is not None and await self.idempotency_record(
                order.owner_id, idempotency.key
            )
            if not taken:
                raise
            return False
        return True

    async def transition(self, order: Order, *, expected: Collection[OrderStatus]) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OrderRow)
                .where(
                    OrderRow.id == order.id,
                    OrderRow.status.in_([status.value for status in expected]),
                )
                .values(status=order.status.value, invoice_id=order.invoice_id)
                .execution_options(synchronize_session=False)
            )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def idempotency_record(self, owner_id: str, key: str) -> IdempotencyRecord | None:
        async with self._sessions() as session:
            row = await session.get(IdempotencyKeyRow, (owner_id, key))
            return None if row is None else _to_record(row)

    async def record_answer(self, owner_id: str, key: str, answer: RecordedAnswer) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(IdempotencyKeyRow)
                .where(
                    IdempotencyKeyRow.owner_id == owner_id,
                    IdempotencyKeyRow.idempotency_key == key,
                    IdempotencyKeyRow.answer_status.is_(None),
                )
                .values(
                    answer_status=answer.status,
                    answer_headers=json.dumps([list(pair) for pair in answer.headers]),
                    answer_body=answer.body,
                )
                .execution_options(synchronize_session=False)
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
