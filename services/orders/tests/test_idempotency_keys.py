"""`Idempotency-Key` on POST /v1/orders: one order and one charge per (user, key), for ever.

Against the real billing over gRPC, on fresh SQLite and PostgreSQL databases (the `orders`
fixture runs every test on both).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from .conftest import InTestExchange

IssueToken = Callable[..., str]

TEA = {"items": [{"sku": "tea", "quantity": 2, "unit_price_cents": 350}], "currency": "EUR"}
CAKE = {"items": [{"sku": "cake", "quantity": 1, "unit_price_cents": 900}], "currency": "EUR"}


def _headers(token: str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": key}


async def _invoices(billing_http: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    answer = await billing_http.get("/v1/invoices", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def _orders_of(orders: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    answer = await orders.get("/v1/orders", headers={"Authorization": f"Bearer {token}"})
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_a_replay_with_the_same_body_returns_the_first_response(
    orders: httpx.AsyncClient, billing_http: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    alice = issue_token("alice")
    first = await orders.post("/v1/orders", json=TEA, headers=_headers(alice, "k-1"))
    # Same body, keys in another order: the fingerprint is of the parsed body.
    replay = await orders.post(
        "/v1/orders",
        json={"currency": "EUR", "items": TEA["items"]},
        headers=_headers(issue_token("alice"), "k-1"),
    )

    assert first.status_code == replay.status_code == 201
    assert replay.content == first.content
    assert replay.headers["content-type"] == "application/json"
    assert [o["id"] for o in await _orders_of(orders, alice)] == [first.json()["id"]]
    assert [i["order_id"] for i in await _invoices(billing_http, alice)] == [first.json()["id"]]


async def test_the_same_key_with_another_body_is_422_and_places_nothing(
    orders: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    alice = issue_token("alice")
    first = await orders.post("/v1/orders", json=TEA, headers=_headers(alice, "k-1"))

    other = await orders.post("/v1/orders", json=CAKE, headers=_headers(alice, "k-1"))

    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in other.json()["detail"]
    assert [o["id"] for o in await _orders_of(orders, alice)] == [first.json()["id"]]


async def test_keys_belong_to_one_user(orders: httpx.AsyncClient, issue_token: IssueToken) -> None:
    alices = await orders.post("/v1/orders", json=TEA, headers=_headers(issue_token("alice"), "k"))
    bobs = await orders.post("/v1/orders", json=CAKE, headers=_headers(issue_token("bob"), "k"))

    assert (alices.status_code, bobs.status_code) == (201, 201)
    assert alices.json()["id"] != bobs.json()["id"]


async def test_ten_concurrent_submissions_with_one_key_make_one_order_and_one_charge(
    orders: httpx.AsyncClient, billing_http: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    alice = issue_token("alice")

    answers = await asyncio.gather(
        *(orders.post("/v1/orders", json=TEA, headers=_headers(alice, "once")) for _ in range(10))
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {201, 409}, [answer.text for answer in answers]
    created = [answer for answer in answers if answer.status_code == 201]
    assert created
    assert {answer.json()["id"] for answer in created} == {created[0].json()["id"]}
    for busy in (answer for answer in answers if answer.status_code == 409):
        assert busy.headers["retry-after"] == "1"
    assert [o["id"] for o in await _orders_of(orders, alice)] == [created[0].json()["id"]]
    assert len(await _invoices(billing_http, alice)) == 1


async def test_a_replay_returns_the_first_answer_even_after_the_order_was_paid(
    orders: httpx.AsyncClient, issue_token: IssueToken, exchange: InTestExchange
) -> None:
    alice = issue_token("alice")
    exchange.auth_down = True
    first = await orders.post("/v1/orders", json=TEA, headers=_headers(alice, "k-1"))
    exchange.auth_down = False
    order_id = first.json()["id"]
    paid = await orders.post(
        f"/v1/orders/{order_id}/pay", headers={"Authorization": f"Bearer {alice}"}
    )

    replay = await orders.post("/v1/orders", json=TEA, headers=_headers(alice, "k-1"))

    assert (first.status_code, first.json()["status"]) == (202, "payment_pending")
    assert paid.json()["status"] == "paid"
    assert (replay.status_code, replay.content) == (202, first.content)


async def test_a_charge_refused_for_its_token_is_made_by_the_retry_with_a_good_one(
    orders: httpx.AsyncClient,
    billing_http: httpx.AsyncClient,
    issue_token: IssueToken,
    exchange: InTestExchange,
) -> None:
    # Found in a browser test: the token expired between orders' check and the exchange, the
    # SPA refreshed and retried with the same key, and got the recorded 401 for ever.
    alice = issue_token("alice")
    exchange.revoked_sessions.add("session-of-alice")  # the exchange is refused: 401
    first = await orders.post("/v1/orders", json=TEA, headers=_headers(alice, "k-1"))
    exchange.revoked_sessions.clear()

    retried = await orders.post("/v1/orders", json=TEA, headers=_headers(alice, "k-1"))
    replay = await orders.post("/v1/orders", json=TEA, headers=_headers(alice, "k-1"))

    assert first.status_code == 401
    assert 'error="invalid_token"' in first.headers["www-authenticate"]
    assert retried.status_code == replay.status_code == 201, retried.text
    assert retried.json()["status"] == "paid"
    assert replay.content == retried.content
    order_ids = [o["id"] for o in await _orders_of(orders, alice)]
    assert order_ids == [retried.json()["id"]]
    assert [i["order_id"] for i in await _invoices(billing_http, alice)] == order_ids


async def test_a_malformed_key_is_422(orders: httpx.AsyncClient, issue_token: IssueToken) -> None:
    alice = issue_token("alice")
    for key in ("", "x" * 256, "with space"):
        answer = await orders.post("/v1/orders", json=TEA, headers=_headers(alice, key))
        assert answer.status_code == 422, key
    assert await _orders_of(orders, alice) == []
