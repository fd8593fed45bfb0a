"""The payment reconciler settles `payment_pending` orders once billing is back, exactly once,
with the token the order's own request obtained; an authorization that runs out first fails
the order (`authorization_expired`), which the user can pay again. Real orders and billing in
process; billing is "away" until its gRPC server starts on the port orders already calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tessera import KeySource
from tessera_dev.testing import IssueToken

from .conftest import InTestExchange, running_billing, running_orders

TEA = {"items": [{"sku": "tea", "quantity": 2, "unit_price_cents": 350}], "currency": "EUR"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 30) -> bool:
    """Whether `check()` holds within `seconds` (generous: the machine is shared)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return await check()


@pytest.fixture
def billing_port(unused_port: int) -> int:
    return unused_port


@pytest.fixture
async def orders(
    tmp_path: Path, keys: KeySource, billing_port: int, exchange: InTestExchange
) -> AsyncIterator[httpx.AsyncClient]:
    """orders calling billing on `billing_port`, where nothing listens until a test starts it,
    with a reconciler round every 0.1 s."""
    async with running_orders(
        f"sqlite+aiosqlite:///{tmp_path}/orders.db",
        keys,
        f"127.0.0.1:{billing_port}",
        exchange,
        deadline_seconds=0.5,
        PAYMENT_RECONCILE_INTERVAL_SECONDS=0.1,
    ) as client:
        yield client


async def _order(orders: httpx.AsyncClient, token: str, order_id: str) -> dict[str, Any]:
    answer = await orders.get(f"/v1/orders/{order_id}", headers=_bearer(token))
    body: dict[str, Any] = answer.json()
    return body


async def test_a_pending_order_is_paid_once_billing_is_back_with_one_invoice(
    orders: httpx.AsyncClient,
    tmp_path: Path,
    keys: KeySource,
    billing_port: int,
    issue_token: IssueToken,
) -> None:
    # Found by a fault soak: nothing settled an order that came back 202 until its user paid.
    token = issue_token("alice")
    placed = await orders.post("/v1/orders", json=TEA, headers=_bearer(token))
    assert placed.status_code == 202
    assert placed.json()["pending_reason"] == "billing_unavailable"
    order_id = placed.json()["id"]

    async with running_billing(tmp_path, keys, grpc_port=billing_port) as billing:
        settled = await eventually(lambda: _status_is(orders, token, order_id, "paid"), seconds=30)
        transport = httpx.ASGITransport(app=billing)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing") as http:
            invoices = (await http.get("/v1/invoices", headers=_bearer(token))).json()["items"]
        await asyncio.sleep(0.5)  # a few more reconciler rounds: none may charge again
        async with httpx.AsyncClient(transport=transport, base_url="http://billing") as http:
            later = (await http.get("/v1/invoices", headers=_bearer(token))).json()["items"]

    order = await _order(orders, token, order_id)
    assert settled
    assert [invoice["order_id"] for invoice in invoices] == [order_id]
    assert later == invoices
    assert order["invoice_id"] == invoices[0]["id"]
    assert (order["pending_reason"], order["failure_reason"]) == (None, None)


async def _status_is(orders: httpx.AsyncClient, token: str, order_id: str, status: str) -> bool:
    current: str = (await _order(orders, token, order_id))["status"]
    return current == status


async def test_an_authorization_that_runs_out_first_fails_the_order_and_the_user_pays_again(
    orders: httpx.AsyncClient,
    tmp_path: Path,
    keys: KeySource,
    billing_port: int,
    issue_token: IssueToken,
) -> None:
    short_lived = issue_token("alice", lifetime_seconds=7)  # exchanged: never outlives it
    placed = await orders.post("/v1/orders", json=TEA, headers=_bearer(short_lived))
    order_id = placed.json()["id"]
    fresh = issue_token("alice")

    failed = await eventually(
        lambda: _status_is(orders, fresh, order_id, "payment_failed"), seconds=30
    )
    order = await _order(orders, fresh, order_id)
    answers: list[httpx.Response] = []

    async def pay() -> bool:  # as a client does: again after a 503's Retry-After
        answers.append(await orders.post(f"/v1/orders/{order_id}/pay", headers=_bearer(fresh)))
        return answers[-1].status_code != 503

    async with running_billing(tmp_path, keys, grpc_port=billing_port):
        assert await eventually(pay, seconds=30)  # the channel finds billing again

    assert failed
    assert order["failure_reason"] == "authorization_expired"
    assert (answers[-1].status_code, answers[-1].json()["status"]) == (200, "paid")


async def test_admins_list_every_pending_order_with_its_reason_and_users_only_their_own(
    orders: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    alice, bob = issue_token("alice"), issue_token("bob")
    admin = issue_token("root", roles=("user", "admin"))
    for token in (alice, bob):
        assert (
            await orders.post("/v1/orders", json=TEA, headers=_bearer(token))
        ).status_code == 202

    everyone = await orders.get("/v1/orders?status=payment_pending", headers=_bearer(admin))
    own = await orders.get("/v1/orders?status=payment_pending", headers=_bearer(alice))
    paid_only = await orders.get("/v1/orders?status=paid", headers=_bearer(alice))
    bad = await orders.get("/v1/orders?status=lost", headers=_bearer(admin))
    metrics = (await orders.get("/metrics")).text

    assert len(everyone.json()["items"]) == 2
    assert {item["pending_reason"] for item in everyone.json()["items"]} == {"billing_unavailable"}
    assert len(own.json()["items"]) == 1
    assert paid_only.json()["items"] == []
    assert bad.status_code == 422
    assert "orders_payment_pending " in metrics
    assert "orders_payment_pending_oldest_age_seconds " in metrics
