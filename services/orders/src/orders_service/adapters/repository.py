"""The SQL implementation of the domain's OrderStore; each write is its own transaction.

Pending charges live beside their orders (`pending_charges`): written with the order, deleted
in the transaction that moves it out of `payment_pending`, their billing tokens sealed
(`adapters/charge_tokens.py`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tessera.storage import entity_from_row, row_values

from orders_service.adapters.charge_tokens import ChargeTokenSealer
from orders_service.adapters.models import (
    IdempotencyKeyRow,
    OrderLineRow,
    OrderRow,
    PendingChargeRow,
)
from orders_service.domain.idempotency import IdempotencyRecord, IdempotentRequest, RecordedAnswer
from orders_service.domain.orders import Order, OrderLine, OrderStatus, StatusReason
from orders_service.domain.payments import ChargeAuthorization, PendingCharge
from orders_service.domain.ports import PendingSummary


def _to_order(row: OrderRow) -> Order:
    lines = tuple(entity_from_row(OrderLine, line) for line in row.lines)
    reason = StatusReason(row.status_reason) if row.status_reason else None
    return entity_from_row(
        Order, row, status=OrderStatus(row.status), lines=lines, status_reason=reason
    )


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

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sealer: ChargeTokenSealer | None = None,
    ) -> None:
        self._sessions = sessions
        self._sealer = sealer or ChargeTokenSealer(None)

    async def add(
        self,
        order: Order,
        *,
        idempotency: IdempotentRequest | None = None,
        pending: PendingCharge | None = None,
    ) -> bool:
        lines = [
            OrderLineRow(**row_values(OrderLineRow, line, position=position))
            for position, line in enumerate(order.lines)
        ]
        row = OrderRow(
            **row_values(
                OrderRow,
                order,
                status=order.status.value,
                status_reason=order.status_reason,
                lines=lines,
            )
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                if pending is not None or idempotency is not None:
                    await session.flush()  # the order first: the other rows refer to it
                if pending is not None:
                    session.add(self._pending_row(pending))
                if idempotency is not None:
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
                .values(
                    status=order.status.value,
                    invoice_id=order.invoice_id,
                    status_reason=order.status_reason,
                )
                .execution_options(synchronize_session=False)
            )
            moved = bool(getattr(result, "rowcount", 0) == 1)
            if moved and order.status is not OrderStatus.PAYMENT_PENDING:
                await session.execute(
                    delete(PendingChargeRow).where(PendingChargeRow.order_id == order.id)
                )
        return moved

    async def retry_charge_later(
        self, order_id: str, *, reason: StatusReason, attempts: int, at: datetime
    ) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(PendingChargeRow)
                .where(PendingChargeRow.order_id == order_id)
                .values(attempts=attempts, next_attempt_at=at)
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                update(OrderRow)
                .where(OrderRow.id == order_id, OrderRow.status == OrderStatus.PAYMENT_PENDING)
                .values(status_reason=reason)
                .execution_options(synchronize_session=False)
            )

    async def due_charges(self, now: datetime, *, limit: int) -> list[PendingCharge]:
        query = (
            select(PendingChargeRow)
            .where(PendingChargeRow.next_attempt_at <= now)
            .order_by(PendingChargeRow.next_attempt_at, PendingChargeRow.order_id)
            .limit(limit)
        )
        async with self._sessions() as session:
            return [self._pending_charge(row) for row in await session.scalars(query)]

    async def pending_summary(self) -> PendingSummary:
        query = select(func.count(OrderRow.id), func.min(OrderRow.created_at)).where(
            OrderRow.status == OrderStatus.PAYMENT_PENDING
        )
        async with self._sessions() as session:
            count, oldest = (await session.execute(query)).one()
        return PendingSummary(int(count), oldest)

    async def idempotency_record(self, owner_id: str, key: str) -> IdempotencyRecord | None:
        async with self._sessions() as session:
            row = await session.get(IdempotencyKeyRow, (owner_id, key))
            return None if row is None else _to_record(row)

    async def record_answer(self, owner_id: str, key: str, answer: RecordedAnswer) -> None:
        await self._write_answer(owner_id, key, answer, IdempotencyKeyRow.answer_status.is_(None))

    async def replace_refused_answer(self, owner_id: str, key: str, answer: RecordedAnswer) -> None:
        # only a 401 (the token was refused, not the request) is ever replaced
        await self._write_answer(owner_id, key, answer, IdempotencyKeyRow.answer_status == 401)

    async def _write_answer(
        self, owner_id: str, key: str, answer: RecordedAnswer, condition: ColumnElement[bool]
    ) -> None:
        """Store `answer` as the key's answer, where its row matches `condition`."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(IdempotencyKeyRow)
                .where(
                    IdempotencyKeyRow.owner_id == owner_id,
                    IdempotencyKeyRow.idempotency_key == key,
                    condition,
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

    async def list_for_owner(
        self, owner_id: str, *, limit: int, status: OrderStatus | None = None
    ) -> list[Order]:
        query = select(OrderRow).where(OrderRow.owner_id == owner_id)
        if status is not None:
            query = query.where(OrderRow.status == status)
        query = query.order_by(OrderRow.created_at.desc(), OrderRow.id.desc()).limit(limit)
        async with self._sessions() as session:
            return [_to_order(row) for row in await session.scalars(query)]

    async def list_with_status(self, status: OrderStatus, *, limit: int) -> list[Order]:
        query = (
            select(OrderRow)
            .where(OrderRow.status == status)
            .order_by(OrderRow.created_at, OrderRow.id)
            .limit(limit)
        )
        async with self._sessions() as session:
            return [_to_order(row) for row in await session.scalars(query)]

    def _pending_row(self, pending: PendingCharge) -> PendingChargeRow:
        authorization = pending.authorization
        return PendingChargeRow(
            order_id=pending.order_id,
            sealed_token=None
            if authorization is None
            else self._sealer.seal(authorization.token, order_id=pending.order_id),
            token_expires_at=None if authorization is None else authorization.expires_at,
            attempts=pending.attempts,
            next_attempt_at=pending.next_attempt_at,
        )

    def _pending_charge(self, row: PendingChargeRow) -> PendingCharge:
        token = (
            None
            if row.sealed_token is None
            else self._sealer.open(row.sealed_token, order_id=row.order_id)
        )
        authorization = (
            None
            if token is None or row.token_expires_at is None
            else ChargeAuthorization(token, row.token_expires_at)
        )
        return PendingCharge(row.order_id, authorization, row.attempts, row.next_attempt_at)
