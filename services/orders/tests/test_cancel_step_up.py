"""A refund needs a recent authentication (RFC 9470), a rule billing enforces where the money is:
orders relays billing's challenge unchanged as its HTTP 401 and the order stays as it was; for a
pending order orders checks the same rule before charging it, so nobody is charged and then
refused the refund. Against the real billing over gRPC."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from tessera.tokens.challenges import parse_challenge

from .conftest import InTestExchange
from .test_pay_and_cancel import TEA, _bearer, _invoices, _pending_order

IssueToken = Callable[..., str]
STALE = 301  # seconds since the user authenticated: past billing's default 300
BILLINGS_CHALLENGE = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="A more recent authentication is required", max_age="300"'
)


async def test_billing_refuses_a_refund_for_a_stale_authentication_and_orders_relays_it(
    orders: httpx.AsyncClient, billing_http: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    stale = issue_token("alice", authenticated_seconds_ago=STALE)
    order = (await orders.post("/v1/orders", json=TEA, headers=_bearer(stale))).json()
    assert order["status"] == "paid"  # paying needs no step-up

    refused = await orders.post(f"/v1/orders/{order['id']}/cancel", headers=_bearer(stale))

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == BILLINGS_CHALLENGE  # relayed as it was
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["max_age"] == 300
    after = (await orders.get(f"/v1/orders/{order['id']}", headers=_bearer(stale))).json()
    assert after["status"] == "paid"  # nothing half-cancelled
    assert [i["status"] for i in await _invoices(billing_http, stale)] == ["paid"]


async def test_after_a_fresh_authentication_the_retry_refunds_exactly_once(
    orders: httpx.AsyncClient, billing_http: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    stale = issue_token("alice", authenticated_seconds_ago=STALE)
    order = (await orders.post("/v1/orders", json=TEA, headers=_bearer(stale))).json()
    await orders.post(f"/v1/orders/{order['id']}/cancel", headers=_bearer(stale))
    fresh = issue_token("alice")  # the user stepped up: the same user, authenticated just now

    retried = await orders.post(f"/v1/orders/{order['id']}/cancel", headers=_bearer(fresh))
    again = await orders.post(f"/v1/orders/{order['id']}/cancel", headers=_bearer(fresh))

    assert (retried.status_code, retried.json()["status"]) == (200, "cancelled")
    assert again.json()["status"] == "cancelled"
    assert [i["status"] for i in await _invoices(billing_http, fresh)] == ["refunded"]


async def test_a_pending_order_is_not_charged_for_a_cancel_that_could_not_refund(
    orders: httpx.AsyncClient,
    billing_http: httpx.AsyncClient,
    issue_token: IssueToken,
    exchange: InTestExchange,
) -> None:
    stale = issue_token("alice", authenticated_seconds_ago=STALE)
    order: dict[str, Any] = await _pending_order(orders, exchange, stale)

    refused = await orders.post(f"/v1/orders/{order['id']}/cancel", headers=_bearer(stale))

    assert refused.status_code == 401
    assert parse_challenge(refused.headers["www-authenticate"])["max_age"] == "300"
    assert await _invoices(billing_http, stale) == []  # orders checked first: no charge
    after = (await orders.get(f"/v1/orders/{order['id']}", headers=_bearer(stale))).json()
    assert after["status"] == "payment_pending"
