"""The orders HTTP API against the real billing, on fresh SQLite and PostgreSQL databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import jsonschema_rs
import pytest

IssueToken = Callable[..., str]

TEA = {"items": [{"sku": "tea", "quantity": 2, "unit_price_cents": 350}], "currency": "EUR"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_placing_an_order_charges_it_and_records_the_invoice(
    orders: httpx.AsyncClient, billing_http: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    alice = issue_token("alice")

    response = await orders.post("/v1/orders", json=TEA, headers=_bearer(alice))

    assert response.status_code == 201
    order = response.json()
    assert (order["status"], order["total_cents"], order["currency"]) == ("paid", 700, "EUR")
    assert order["items"] == TEA["items"]
    invoice = await billing_http.get(f"/v1/invoices/{order['invoice_id']}", headers=_bearer(alice))
    assert invoice.status_code == 200
    assert (invoice.json()["user_id"], invoice.json()["order_id"]) == ("alice", order["id"])
    assert invoice.json()["amount_cents"] == 700


async def test_the_caller_lists_only_their_own_orders(
    orders: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    alice, bob = issue_token("alice"), issue_token("bob")
    mine = (await orders.post("/v1/orders", json=TEA, headers=_bearer(alice))).json()
    await orders.post("/v1/orders", json=TEA, headers=_bearer(bob))

    response = await orders.get("/v1/orders", headers=_bearer(alice))

    assert response.status_code == 200
    assert [order["id"] for order in response.json()["items"]] == [mine["id"]]


async def test_an_order_is_visible_to_its_owner_and_admins_and_404_to_anyone_else(
    orders: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    created = await orders.post("/v1/orders", json=TEA, headers=_bearer(issue_token("alice")))
    path = f"/v1/orders/{created.json()['id']}"

    own = await orders.get(path, headers=_bearer(issue_token("alice")))
    other = await orders.get(path, headers=_bearer(issue_token("bob")))
    admin = await orders.get(path, headers=_bearer(issue_token("root", roles=("user", "admin"))))

    assert (own.status_code, other.status_code, admin.status_code) == (200, 404, 200)
    assert other.headers["content-type"] == "application/problem+json"


INVALID_ORDERS = pytest.mark.parametrize(
    "body",
    [
        {"items": [], "currency": "EUR"},
        {"items": [{"sku": "tea", "quantity": 0, "unit_price_cents": 1}], "currency": "EUR"},
        {"items": [{"sku": "tea", "quantity": 1001, "unit_price_cents": 1}], "currency": "EUR"},
        {"items": [{"sku": "tea", "quantity": 1, "unit_price_cents": -1}], "currency": "EUR"},
        {"items": [{"sku": "tea", "quantity": 1, "unit_price_cents": 1}], "currency": "euro"},
        {"items": [{"sku": "tea", "quantity": 1, "unit_price_cents": 0}], "currency": "EUR"},
        {"items": [{"sku": " ", "quantity": 1, "unit_price_cents": 1}], "currency": "EUR"},
    ],
    ids=[
        "no-items",
        "zero-quantity",
        "too-many",
        "negative-price",
        "bad-currency",
        "free",
        "blank",
    ],
)


@INVALID_ORDERS
@pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)
async def test_the_published_schema_already_refuses_every_order_the_service_refuses(
    orders: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    # Found by fuzzing: a free order and a blank sku were schema-valid, then refused with 422.
    document = (await orders.get("/openapi.json")).json()
    schema = {"$ref": "#/components/schemas/OrderIn", "components": document["components"]}

    assert not jsonschema_rs.validator_for(schema).is_valid(body)
    assert jsonschema_rs.validator_for(schema).is_valid(TEA)


@INVALID_ORDERS
@pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)  # validation: one database
async def test_an_invalid_order_is_422_problem_json_and_is_not_stored(
    orders: httpx.AsyncClient, issue_token: IssueToken, body: dict[str, Any]
) -> None:
    token = issue_token("alice")
    response = await orders.post("/v1/orders", json=body, headers=_bearer(token))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (await orders.get("/v1/orders", headers=_bearer(token))).json()["items"] == []


async def test_placing_an_order_without_a_token_is_401(orders: httpx.AsyncClient) -> None:
    response = await orders.post("/v1/orders", json=TEA)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_placing_an_order_without_orders_write_is_403(
    orders: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    token = issue_token("alice", scope="orders:read invoices:read")
    response = await orders.post("/v1/orders", json=TEA, headers=_bearer(token))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_readiness_reports_the_database_and_the_keys(orders: httpx.AsyncClient) -> None:
    assert (await orders.get("/readyz")).status_code == 200


@pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)
async def test_a_405_names_every_method_the_path_serves_as_its_openapi_documents(
    orders: httpx.AsyncClient,
) -> None:
    # Found by fuzzing: OPTIONS /v1/orders answered `Allow: POST`; the path serves GET too.
    documented = (await orders.get("/openapi.json")).json()["paths"]["/v1/orders"]

    answer = await orders.options("/v1/orders")

    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"
    allowed = answer.headers["allow"].split(", ")
    assert set(allowed) - {"HEAD"} == {method.upper() for method in documented} == {"GET", "POST"}
