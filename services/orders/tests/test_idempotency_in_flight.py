"""A key whose first request is still running, or died before answering, on an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from orders_service.adapters.billing_client import GrpcBillingGateway
from orders_service.adapters.migrations import MIGRATIONS
from orders_service.adapters.repository import SqlOrderStore
from orders_service.api.orders import order_answer
from orders_service.domain.idempotency import IdempotentRequest, RecordedAnswer, fingerprint_of
from orders_service.domain.orders import Order, OrderLine, new_order
from orders_service.errors import RequestInProgressError
from orders_service.use_cases import Orders
from sqlalchemy.exc import OperationalError
from tessera.storage import Database

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
LINES = [OrderLine("tea", 2, 350)]
REQUEST = IdempotentRequest("k-1", fingerprint_of({"items": "tea x2", "currency": "EUR"}))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlOrderStore]:
    url = f"sqlite+aiosqlite:///{tmp_path}/orders.db"
    await MIGRATIONS.upgrade(url)
    database = Database.connect(url)
    try:
        yield SqlOrderStore(database.sessions)
    finally:
        await database.dispose()


async def test_a_retry_waits_for_a_running_first_request_and_answers_for_a_dead_one(
    store: SqlOrderStore, unused_port: int
) -> None:
    # The first request stored its order and key, then died before charging or answering.
    first = new_order(order_id="o-1", owner_id="alice", lines=LINES, currency="EUR", now=T0)
    assert await store.add(first, idempotency=REQUEST)
    clock = Clock()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{unused_port}") as channel:
        use_cases = Orders(
            store=store,
            payments=GrpcBillingGateway(channel, deadline_seconds=1),
            clock=clock,
            new_id=lambda: "o-2",
        )

        async def retry() -> RecordedAnswer:
            return await use_cases.place_once(
                owner_id="alice", lines=LINES, currency="EUR", request=REQUEST, render=order_answer
            )

        clock.now = T0 + timedelta(seconds=29)
        with pytest.raises(RequestInProgressError):
            await retry()
        clock.now = T0 + timedelta(seconds=31)
        late = await retry()
        again = await retry()

    assert late == again
    assert late.status == 202
    assert '"id":"o-1"' in late.body
    assert [order.id for order in await store.list_for_owner("alice", limit=10)] == ["o-1"]


async def test_a_second_order_under_a_taken_key_is_not_stored(store: SqlOrderStore) -> None:
    first = new_order(order_id="o-1", owner_id="alice", lines=LINES, currency="EUR", now=T0)
    second = new_order(order_id="o-2", owner_id="alice", lines=LINES, currency="EUR", now=T0)

    assert await store.add(first, idempotency=REQUEST)
    assert not await store.add(second, idempotency=REQUEST)
    assert await store.get("o-2") is None


class BlippingStore(SqlOrderStore):
    """The real store, with the database away for answers while `down` is set."""

    down = False

    async def record_answer(self, owner_id: str, key: str, answer: RecordedAnswer) -> None:
        if self.down:
            raise OperationalError("UPDATE idempotency_keys", {}, ConnectionRefusedError())
        await super().record_answer(owner_id, key, answer)

    async def get(self, order_id: str) -> Order | None:
        if self.down:
            raise OperationalError("SELECT orders", {}, ConnectionRefusedError())
        return await super().get(order_id)


async def test_a_retry_after_a_failed_first_request_is_answered_without_the_in_flight_wait(
    tmp_path: Path, unused_port: int
) -> None:
    # Found by a fault soak: a 0.3 s PostgreSQL restart between storing the order and recording
    # its answer kept every retry of the key at 409 "in progress" for 30 s.
    url = f"sqlite+aiosqlite:///{tmp_path}/orders.db"
    await MIGRATIONS.upgrade(url)
    database = Database.connect(url)
    store = BlippingStore(database.sessions)
    clock = Clock()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{unused_port}") as channel:
        use_cases = Orders(
            store=store,
            payments=GrpcBillingGateway(channel, deadline_seconds=0.2),  # billing away: pending
            clock=clock,
            new_id=iter(["o-1", "o-2"]).__next__,
        )

        async def place() -> RecordedAnswer:
            return await use_cases.place_once(
                owner_id="alice", lines=LINES, currency="EUR", request=REQUEST, render=order_answer
            )

        store.down = True
        with pytest.raises(OperationalError):
            await place()
        store.down = False  # back within the blip; the clock stays far from IN_FLIGHT_TIMEOUT

        answers: list[RecordedAnswer] = []

        async def retry_until_answered() -> None:
            while True:
                try:
                    answers.append(await place())
                    return
                except RequestInProgressError:
                    await asyncio.sleep(0.1)

        await asyncio.wait_for(retry_until_answered(), timeout=10)
        await use_cases.follow_ups.aclose()
    await database.dispose()

    assert answers[0].status == 202
    assert '"id":"o-1"' in answers[0].body
    assert [order.id for order in await store.list_for_owner("alice", limit=10)] == ["o-1"]
