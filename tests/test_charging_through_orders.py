"""Issue 4 end to end: orders calls billing as itself, on behalf of the user, and never twice.

Real processes (auth, orders, billing) on PostgreSQL and SQLite. The test acts as a service
client with the secrets the platform was given (`tessera_dev.grants`), to show what billing
refuses: a user's own token at Charge, a service token with no user, and an exchanged token
presented anywhere but billing. Then the order flow's guarantees: one order and one charge per
idempotency key however many concurrent submissions; a billing outage leaves the order
`payment_pending`, and paying later charges exactly once, also when billing charged and only
its answer was lost on the way back (a fault proxy between orders and billing); the payment
reconciler settles such an order by itself once billing is back, or fails it as
`authorization_expired` when the user's session was revoked meanwhile; cancelling refunds once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
import httpx
import pytest
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera_dev import probes
from tessera_dev.accounts import Account, log_in, register_and_login
from tessera_dev.grants import access_token_of, client_credentials, service_client_secret
from tessera_dev.harness import RunningPlatform

from .fault_proxy import FaultProxy

T = TypeVar("T")

ORDER = {
    "items": [{"sku": "TESSERA-MUG", "quantity": 1, "unit_price_cents": 1250}],
    "currency": "EUR",
}


@pytest.fixture
def account(platform: RunningPlatform) -> Account:
    return register_and_login(platform.plan.service("auth").base_url)


def _charge(stub: billing_pb2_grpc.BillingServiceStub, token: str) -> grpc.StatusCode:
    request = billing_pb2.ChargeRequest(
        order_id=f"order-{secrets.token_hex(4)}",
        amount_cents=100,
        currency="EUR",
        idempotency_key=secrets.token_hex(8),
    )
    return probes.grpc_code(stub.Charge, request, token)


def _invoices_for(billing: httpx.Client, account: Account, order_id: str) -> list[dict[str, Any]]:
    listed = billing.get("/v1/invoices", headers=account.bearer)
    assert listed.status_code == 200, listed.text
    return [i for i in listed.json()["items"] if i["order_id"] == order_id]


def test_a_users_own_token_cannot_charge_at_billing(
    billing_grpc: billing_pb2_grpc.BillingServiceStub, account: Account
) -> None:
    assert _charge(billing_grpc, account.access_token) == grpc.StatusCode.PERMISSION_DENIED


def test_a_service_token_without_a_user_cannot_charge_for_a_user(
    platform: RunningPlatform, billing_grpc: billing_pb2_grpc.BillingServiceStub
) -> None:
    auth_url = platform.plan.service("auth").base_url
    secret = service_client_secret(platform.plan, "orders")

    # auth will not even mint orders a token of its own for billing: only exchanges reach it ...
    for_billing = client_credentials(auth_url, "orders", secret, audience="billing")
    assert for_billing.status_code == 400
    assert for_billing.json()["error"] == "invalid_target"

    # ... and the service token orders does hold (for auth's feed) is refused by billing.
    feed_token = access_token_of(
        client_credentials(auth_url, "orders", secret, audience="auth", scope="revocations:read")
    )
    assert _charge(billing_grpc, feed_token) == grpc.StatusCode.UNAUTHENTICATED


def test_an_exchanged_token_acting_through_orders_can_charge(
    platform: RunningPlatform, billing_grpc: billing_pb2_grpc.BillingServiceStub, account: Account
) -> None:
    exchanged = probes.exchanged_for_billing(platform, account.access_token)
    assert _charge(billing_grpc, exchanged) == grpc.StatusCode.OK


def test_ten_concurrent_submissions_with_one_idempotency_key_make_one_order_and_one_charge(
    platform: RunningPlatform, billing: httpx.Client, account: Account
) -> None:
    headers = {**account.bearer, "Idempotency-Key": secrets.token_hex(16)}
    base_url = platform.plan.service("orders").base_url

    def submit(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            return client.post("/v1/orders", json=ORDER, headers=headers)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(submit, range(10)))

    created = [a for a in answers if a.status_code in (200, 201)]
    assert created, [a.text for a in answers]
    assert all(a.status_code in (200, 201, 409) for a in answers), [a.text for a in answers]
    assert {a.json()["id"] for a in created} == {created[0].json()["id"]}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        mine = client.get("/v1/orders", headers=account.bearer).json()["items"]
    assert [o["id"] for o in mine] == [created[0].json()["id"]]
    assert len(_invoices_for(billing, account, created[0].json()["id"])) == 1


def test_an_order_placed_while_billing_is_down_is_pending_and_paying_later_charges_once(
    platform: RunningPlatform, orders: httpx.Client, billing: httpx.Client, account: Account
) -> None:
    billing_service = platform.plan.service("billing")
    platform.kill_process("billing")
    try:
        placed = orders.post("/v1/orders", json=ORDER, headers=account.bearer)
    finally:
        platform.start_process(
            "billing",
            billing_service.serve_argv,
            billing_service.settings,
            ready_url=billing_service.health_url,
        )

    assert placed.status_code == 202, placed.text
    assert placed.json()["status"] == "payment_pending"
    order_id = placed.json()["id"]
    paid = orders.post(f"/v1/orders/{order_id}/pay", headers=account.bearer)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    again = orders.post(f"/v1/orders/{order_id}/pay", headers=account.bearer)
    assert again.status_code in (200, 409), again.text
    invoices = _invoices_for(billing, account, order_id)
    assert [i["id"] for i in invoices] == [paid.json()["invoice_id"]]


def _while_billing_is_down(platform: RunningPlatform, action: Callable[[], T]) -> T:
    """`action()` with billing killed; billing is started again afterwards."""
    billing_service = platform.plan.service("billing")
    platform.kill_process("billing")
    try:
        return action()
    finally:
        platform.start_process(
            "billing",
            billing_service.serve_argv,
            billing_service.settings,
            ready_url=billing_service.health_url,
        )


def _order_status(orders: httpx.Client, account: Account, order_id: str) -> dict[str, Any]:
    body: dict[str, Any] = orders.get(f"/v1/orders/{order_id}", headers=account.bearer).json()
    return body


def test_the_reconciler_pays_an_order_placed_while_billing_was_down_exactly_once(
    platform: RunningPlatform, orders: httpx.Client, billing: httpx.Client, account: Account
) -> None:
    placed = _while_billing_is_down(
        platform, lambda: orders.post("/v1/orders", json=ORDER, headers=account.bearer)
    )
    order_id = placed.json()["id"]

    settled = probes.eventually(
        lambda: _order_status(orders, account, order_id)["status"] == "paid", seconds=60
    )

    assert (placed.status_code, placed.json()["pending_reason"]) == (202, "billing_unavailable")
    assert settled, _order_status(orders, account, order_id)
    invoices = _invoices_for(billing, account, order_id)
    assert [i["id"] for i in invoices] == [_order_status(orders, account, order_id)["invoice_id"]]


def test_a_pending_order_of_a_session_revoked_meanwhile_fails_as_authorization_expired(
    platform: RunningPlatform, orders: httpx.Client
) -> None:
    auth_url = platform.plan.service("auth").base_url
    phone = register_and_login(auth_url, client_id="mobile")
    laptop = log_in(auth_url, phone.email, phone.password, client_id="mobile")

    def place_then_log_out() -> httpx.Response:
        placed = orders.post("/v1/orders", json=ORDER, headers=phone.bearer)
        logout = httpx.post(
            f"{auth_url}/v1/auth/logout",
            headers=phone.bearer,
            json={"refresh_token": phone.refresh_token},
            timeout=10,
        )
        assert logout.status_code == 204, logout.text
        return placed

    placed = _while_billing_is_down(platform, place_then_log_out)
    order_id = placed.json()["id"]

    failed = probes.eventually(
        lambda: _order_status(orders, laptop, order_id)["status"] == "payment_failed",
        seconds=60,
    )

    assert placed.status_code == 202
    assert failed, _order_status(orders, laptop, order_id)
    assert _order_status(orders, laptop, order_id)["failure_reason"] == "authorization_expired"
    paid = orders.post(f"/v1/orders/{order_id}/pay", headers=laptop.bearer)  # the user, again
    assert (paid.status_code, paid.json()["status"]) == (200, "paid"), paid.text


def test_a_charge_whose_answer_is_lost_stays_pending_and_paying_later_charges_once(
    platform: RunningPlatform, billing: httpx.Client, account: Account
) -> None:
    orders_service = platform.plan.service("orders")
    target = platform.plan.service("billing").grpc_target
    assert target is not None
    host, port = target.rsplit(":", 1)

    def start_orders(billing_target: str) -> None:
        settings = {**orders_service.settings, "BILLING_GRPC_TARGET": billing_target}
        platform.start_process(
            "orders", orders_service.serve_argv, settings, ready_url=orders_service.health_url
        )

    with FaultProxy(upstream=(host, int(port))) as proxy:
        platform.stop_process("orders")
        start_orders(proxy.address)  # orders now reaches billing only through the proxy
        try:
            with httpx.Client(base_url=orders_service.base_url, timeout=30) as orders:
                warm = orders.post("/v1/orders", json=ORDER, headers=account.bearer)
                assert warm.status_code == 201, warm.text  # the proxy passes answers

                proxy.lose_answers()
                placed = orders.post("/v1/orders", json=ORDER, headers=account.bearer)
                proxy.heal()
                order_id = placed.json()["id"]
                charged = _invoices_for(billing, account, order_id)
                paid = orders.post(f"/v1/orders/{order_id}/pay", headers=account.bearer)
        finally:
            platform.stop_process("orders")
            start_orders(orders_service.settings["BILLING_GRPC_TARGET"])

    assert proxy.answers_lost > 0
    assert (placed.status_code, placed.json()["status"]) == (202, "payment_pending")
    assert len(charged) == 1  # billing did charge: only its answer was lost
    assert (paid.status_code, paid.json()["status"]) == (200, "paid"), paid.text
    assert paid.json()["invoice_id"] == charged[0]["id"]
    assert [i["id"] for i in _invoices_for(billing, account, order_id)] == [charged[0]["id"]]


def test_cancelling_a_paid_order_refunds_it_once(
    platform: RunningPlatform, orders: httpx.Client, billing: httpx.Client, account: Account
) -> None:
    placed = orders.post("/v1/orders", json=ORDER, headers=account.bearer)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    base_url = platform.plan.service("orders").base_url

    def cancel(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            return client.post(f"/v1/orders/{order_id}/cancel", headers=account.bearer)

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(cancel, range(3)))

    assert all(a.status_code in (200, 409) for a in answers), [a.text for a in answers]
    assert any(a.status_code == 200 for a in answers)
    fetched = orders.get(f"/v1/orders/{order_id}", headers=account.bearer).json()
    assert fetched["status"] == "cancelled"
    invoices = _invoices_for(billing, account, order_id)
    assert [i["status"] for i in invoices] == ["refunded"]
