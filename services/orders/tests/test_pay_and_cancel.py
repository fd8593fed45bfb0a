"""Paying a pending order later and cancelling with a refund: each exactly once.

Against the real billing over gRPC; a billing that is down or silent is a real address where
nothing answers, so the error mapping (503 + Retry-After, 401, 403) is billing's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tessera import KeySource, current_principal_var

from .conftest import InTestExchange, running_orders

IssueToken = Callable[..., str]

TEA = {"items": [{"sku": "tea", "quantity": 2, "unit_price_cents": 350}], "currency": "EUR"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _invoices(billing_http: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    answer = await billing_http.get("/v1/invoices", headers=_bearer(token))
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def _pending_order(
    orders: httpx.AsyncClient, exchange: InTestExchange, token: str
) -> dict[str, Any]:
    """An order placed while auth could not exchange the token: stored, not charged."""
    exchange.auth_down = True
    placed = await orders.post("/v1/orders", json=TEA, headers=_bearer(token))
    exchange.auth_down = False
    assert placed.status_code == 202
    order: dict[str, Any] = placed.json()
    return order


async def test_paying_a_pending_order_later_charges_it_exactly_once(
    orders: httpx.AsyncClient,
    billing_http: httpx.AsyncClient,
    issue_token: IssueToken,
    exchange: InTestExchange,
) -> None:
    alice = issue_token("alice")
    order = await _pending_order(orders, exchange, alice)
    assert await _invoices(billing_http, alice) == []

    answers = await asyncio.gather(
        *(orders.post(f"/v1/orders/{order['id']}/pay", headers=_bearer(alice)) for _ in range(5))
    )
    again = await orders.post(f"/v1/orders/{order['id']}/pay", headers=_bearer(alice))

    assert {answer.status_code for answer in [*answers, again]} == {200}
    assert {answer.json()["status"] for answer in [*answers, again]} == {"paid"}
    invoices = await _invoices(billing_http, alice)
    assert [(i["order_id"], i["amount_cents"]) for i in invoices] == [(order["id"], 700)]
    assert {answer.json()["invoice_id"] for answer in [*answers, again]} == {invoices[0]["id"]}


async def test_cancelling_a_paid_order_refunds_it_once(
    orders: httpx.AsyncClient, billing_http: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    alice = issue_token("alice")
    order = (await orders.post("/v1/orders", json=TEA, headers=_bearer(alice))).json()

    answers = await asyncio.gather(
        *(orders.post(f"/v1/orders/{order['id']}/cancel", headers=_bearer(alice)) for _ in range(3))
    )

    assert {(a.status_code, a.json()["status"]) for a in answers} == {(200, "cancelled")}
    invoices = await _invoices(billing_http, alice)
    assert [(i["id"], i["status"]) for i in invoices] == [(order["invoice_id"], "refunded")]
    fetched = await orders.get(f"/v1/orders/{order['id']}", headers=_bearer(alice))
    assert fetched.json()["status"] == "cancelled"


async def test_cancelling_a_pending_order_leaves_no_money_taken(
    orders: httpx.AsyncClient,
    billing_http: httpx.AsyncClient,
    issue_token: IssueToken,
    exchange: InTestExchange,
) -> None:
    alice = issue_token("alice")
    order = await _pending_order(orders, exchange, alice)

    cancelled = await orders.post(f"/v1/orders/{order['id']}/cancel", headers=_bearer(alice))

    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert [i["status"] for i in await _invoices(billing_http, alice)] == ["refunded"]


async def test_a_cancelled_order_cannot_be_paid(
    orders: httpx.AsyncClient, issue_token: IssueToken, exchange: InTestExchange
) -> None:
    alice = issue_token("alice")
    order = await _pending_order(orders, exchange, alice)
    await orders.post(f"/v1/orders/{order['id']}/cancel", headers=_bearer(alice))

    paid = await orders.post(f"/v1/orders/{order['id']}/pay", headers=_bearer(alice))

    assert paid.status_code == 409
    assert paid.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("action", ["pay", "cancel"])
async def test_only_the_owner_may_pay_or_cancel_an_order_even_an_admin_gets_404(
    orders: httpx.AsyncClient, issue_token: IssueToken, exchange: InTestExchange, action: str
) -> None:
    order = await _pending_order(orders, exchange, issue_token("alice"))
    admin = issue_token("root", roles=("user", "admin"))

    answers = [
        await orders.post(f"/v1/orders/{order['id']}/{action}", headers=_bearer(token))
        for token in (issue_token("bob"), admin)
    ]

    assert [answer.status_code for answer in answers] == [404, 404]


async def test_a_refused_exchange_when_paying_is_401_and_the_order_stays_pending(
    orders: httpx.AsyncClient, issue_token: IssueToken, exchange: InTestExchange
) -> None:
    alice = issue_token("alice")
    order = await _pending_order(orders, exchange, alice)
    exchange.revoked_sessions.add("session-of-alice")

    paid = await orders.post(f"/v1/orders/{order['id']}/pay", headers=_bearer(alice))

    assert paid.status_code == 401
    assert paid.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    fetched = await orders.get(f"/v1/orders/{order['id']}", headers=_bearer(alice))
    assert fetched.json()["status"] == "payment_pending"


async def forward_the_users_own_token() -> str | None:
    """The skeleton's token source: billing now refuses a user's own token at Charge."""
    principal = current_principal_var.get()
    return None if principal is None else principal.token


@pytest.fixture
async def orders_forwarding_user_tokens(
    tmp_path: Path, keys: KeySource, billing_app: FastAPI
) -> AsyncIterator[httpx.AsyncClient]:
    target = f"127.0.0.1:{billing_app.state.grpc_port}"
    url = f"sqlite+aiosqlite:///{tmp_path}/orders.db"
    async with running_orders(url, keys, target, forward_the_users_own_token) as client:
        yield client


async def test_billing_refusing_the_caller_is_403(
    orders_forwarding_user_tokens: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    placed = await orders_forwarding_user_tokens.post(
        "/v1/orders", json=TEA, headers=_bearer(issue_token("alice"))
    )

    assert placed.status_code == 403
    assert placed.headers["content-type"] == "application/problem+json"


async def test_paying_or_cancelling_while_billing_is_down_is_503_with_retry_after(
    orders_without_billing: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    alice = issue_token("alice")
    placed = await orders_without_billing.post("/v1/orders", json=TEA, headers=_bearer(alice))
    order_id = placed.json()["id"]

    for action in ("pay", "cancel"):
        answer = await orders_without_billing.post(
            f"/v1/orders/{order_id}/{action}", headers=_bearer(alice)
        )
        assert answer.status_code == 503, action
        assert answer.headers["retry-after"] == "5"
        assert answer.headers["content-type"] == "application/problem+json"
    fetched = await orders_without_billing.get(f"/v1/orders/{order_id}", headers=_bearer(alice))
    assert fetched.json()["status"] == "payment_pending"


@pytest.fixture
async def silent_billing() -> AsyncIterator[str]:
    """A TCP address that accepts connections and never answers: every call hits its deadline."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_billing_past_its_deadline_keeps_the_order_pending_and_cancel_is_503(
    tmp_path: Path,
    keys: KeySource,
    silent_billing: str,
    exchange: InTestExchange,
    issue_token: IssueToken,
) -> None:
    alice = issue_token("alice")
    url = f"sqlite+aiosqlite:///{tmp_path}/orders.db"
    async with running_orders(
        url, keys, silent_billing, exchange, deadline_seconds=0.3
    ) as orders_client:
        placed = await orders_client.post("/v1/orders", json=TEA, headers=_bearer(alice))
        cancel = await orders_client.post(
            f"/v1/orders/{placed.json()['id']}/cancel", headers=_bearer(alice)
        )

    assert (placed.status_code, placed.json()["status"]) == (202, "payment_pending")
    assert (cancel.status_code, cancel.headers["retry-after"]) == (503, "5")
    assert "DEADLINE_EXCEEDED" in cancel.json()["detail"]
