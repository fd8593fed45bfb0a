"""The walking skeleton end to end: register, log in, order, and find the invoice at billing.

The order's charge goes orders → billing over gRPC with the caller's identity in metadata, and
billing verifies that token again; the invoice it stores belongs to the user the token names.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera_dev.accounts import Account, register_and_login
from tessera_dev.harness import RunningPlatform

ORDER = {
    "items": [
        {"sku": "TESSERA-MUG", "quantity": 2, "unit_price_cents": 1250},
        {"sku": "TESSERA-TEE", "quantity": 1, "unit_price_cents": 1999},
    ],
    "currency": "EUR",
}


def place_order(
    orders: httpx.Client, account: Account, request_id: str | None = None
) -> dict[str, Any]:
    headers = dict(account.bearer)
    if request_id:
        headers["X-Request-ID"] = request_id
    created = orders.post("/v1/orders", json=ORDER, headers=headers)
    assert created.status_code == 201, created.text
    order: dict[str, Any] = created.json()
    return order


def test_a_user_orders_and_sees_the_order_at_orders_and_the_invoice_at_billing(
    orders: httpx.Client, billing: httpx.Client, alice: Account
) -> None:
    order = place_order(orders, alice)

    assert order["status"] == "paid"
    assert order["total_cents"] == 2 * 1250 + 1999
    assert order["currency"] == "EUR"
    assert order["invoice_id"]
    fetched = orders.get(f"/v1/orders/{order['id']}", headers=alice.bearer)
    assert fetched.status_code == 200
    assert fetched.json()["invoice_id"] == order["invoice_id"]
    listed = orders.get("/v1/orders", headers=alice.bearer).json()["items"]
    assert order["id"] in [o["id"] for o in listed]

    invoice = billing.get(f"/v1/invoices/{order['invoice_id']}", headers=alice.bearer)
    assert invoice.status_code == 200, invoice.text
    assert invoice.json()["user_id"] == alice.id
    assert invoice.json()["order_id"] == order["id"]
    assert invoice.json()["amount_cents"] == order["total_cents"]
    invoices = billing.get("/v1/invoices", headers=alice.bearer).json()["items"]
    assert order["invoice_id"] in [i["id"] for i in invoices]


def test_billing_knows_the_user_from_the_token_it_verified_over_grpc(
    orders: httpx.Client,
    billing_grpc: billing_pb2_grpc.BillingServiceStub,
    alice: Account,
) -> None:
    order = place_order(orders, alice)

    invoice = billing_grpc.GetInvoice(
        billing_pb2.GetInvoiceRequest(id=order["invoice_id"]),
        metadata=(("authorization", f"Bearer {alice.access_token}"),),
        timeout=10,
    )

    assert invoice.user_id == alice.id
    assert invoice.order_id == order["id"]


def test_another_users_order_and_invoice_do_not_exist_for_them(
    orders: httpx.Client, billing: httpx.Client, alice: Account, bob: Account
) -> None:
    order = place_order(orders, alice)

    assert orders.get(f"/v1/orders/{order['id']}", headers=bob.bearer).status_code == 404
    assert billing.get(f"/v1/invoices/{order['invoice_id']}", headers=bob.bearer).status_code == 404
    assert order["id"] not in [
        o["id"] for o in orders.get("/v1/orders", headers=bob.bearer).json()["items"]
    ]


def test_the_request_id_follows_the_call_from_http_through_grpc_into_billings_log(
    platform: RunningPlatform, orders: httpx.Client, alice: Account
) -> None:
    request_id = f"e2e-{secrets.token_hex(8)}"

    place_order(orders, alice, request_id=request_id)

    for service in ("orders", "billing"):
        log = platform.wait_for_log(service, request_id)
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        assert any(line.get("request_id") == request_id for line in lines), service


def test_no_log_line_contains_a_token_or_a_password(
    platform: RunningPlatform, orders: httpx.Client, billing: httpx.Client
) -> None:
    account = register_and_login(platform.plan.service("auth").base_url)
    order = place_order(orders, account)
    invoice_path = f"/v1/invoices/{order['invoice_id']}"
    billing.get(invoice_path, headers=account.bearer)

    assert invoice_path in platform.wait_for_log("billing", invoice_path)  # requests are logged
    logs = platform.all_logs()

    signature = account.access_token.rsplit(".", 1)[1]
    assert account.access_token not in logs
    assert signature not in logs
    assert account.password not in logs
