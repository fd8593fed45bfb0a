"""orders and billing while their database is away for a moment (real processes, PostgreSQL
behind a proxy that can cut it off): an honest 503 + Retry-After on a connection that stays
open for the retry, `Charge` UNAVAILABLE, and orders keeping the order pending meanwhile."""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from sqlalchemy.engine import make_url
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera_dev import probes
from tessera_dev.accounts import Account, register_and_login
from tessera_dev.harness import RunningPlatform

from .fault_proxy import FaultProxy

ORDER = {"items": [{"sku": "MUG", "quantity": 1, "unit_price_cents": 1250}], "currency": "EUR"}
pytestmark = pytest.mark.parametrize("platform", ["postgres"], indirect=True)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    will_close: bool


class KeptConnection:
    """One HTTP/1.1 connection, reused for every request (http.client never reconnects
    behind our back while `sock` is open), so a test can see whether the server closed it."""

    def __init__(self, base_url: str, bearer: dict[str, str]) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=30)
        self.bearer = bearer

    def ask(self, method: str, path: str, body: Any = None, **headers: str) -> Answer:
        payload = None if body is None else json.dumps(body)
        sent = {**self.bearer, **headers, **({"Content-Type": "application/json"} if body else {})}
        self.connection.request(method, path, body=payload, headers=sent)
        response = self.connection.getresponse()
        text = response.read().decode()
        return Answer(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            json.loads(text) if text else None,
            response.will_close,
        )

    def close(self) -> None:
        self.connection.close()


@contextlib.contextmanager
def database_behind_a_proxy(platform: RunningPlatform, name: str) -> Iterator[FaultProxy]:
    """Restart `name` with its DATABASE_URL through a FaultProxy; put it back afterwards."""
    service = platform.plan.service(name)
    url = make_url(service.settings["DATABASE_URL"])
    assert url.host is not None
    assert url.port is not None

    def start(settings: dict[str, str]) -> None:
        platform.start_process(name, service.serve_argv, settings, ready_url=service.health_url)

    with FaultProxy(upstream=(url.host, url.port)) as proxy:
        host, port = proxy.address.split(":")
        proxied = url.set(host=host, port=int(port)).render_as_string(hide_password=False)
        platform.stop_process(name)
        start({**service.settings, "DATABASE_URL": proxied})
        try:
            yield proxy
        finally:
            platform.stop_process(name)
            start(dict(service.settings))


@pytest.fixture
def account(platform: RunningPlatform) -> Account:
    return register_and_login(platform.plan.service("auth").base_url)


def _is_503_with_retry_after(answer: Answer) -> bool:
    return (
        answer.status == 503
        and answer.headers["content-type"] == "application/problem+json"
        and int(answer.headers["retry-after"]) >= 1
        and answer.body["status"] == 503
        and not answer.will_close
    )


def test_orders_answers_503_on_a_kept_connection_while_its_database_is_away(
    platform: RunningPlatform, account: Account
) -> None:
    # Found by a fault soak: a 500 that closed the keep-alive connection, so the client's next
    # request failed with a ReadError before it reached orders, and a POST's outcome was unknown.
    with database_behind_a_proxy(platform, "orders") as database:
        orders = KeptConnection(platform.plan.service("orders").base_url, account.bearer)
        try:
            before = orders.ask("GET", "/v1/orders")
            socket = orders.connection.sock
            database.cut()
            listed = orders.ask("GET", "/v1/orders")
            placed = orders.ask("POST", "/v1/orders", ORDER, **{"Idempotency-Key": "outage-1"})
            database.heal()
            retried = orders.ask("POST", "/v1/orders", ORDER, **{"Idempotency-Key": "outage-1"})
            same_socket = orders.connection.sock is socket
        finally:
            orders.close()

    assert before.status == 200
    assert _is_503_with_retry_after(listed), listed
    assert _is_503_with_retry_after(placed), placed
    assert retried.status == 201, retried
    assert same_socket


def test_billing_answers_503_and_unavailable_while_its_database_is_away_and_orders_waits(
    platform: RunningPlatform,
    billing_grpc: billing_pb2_grpc.BillingServiceStub,
    account: Account,
) -> None:
    billing_token = probes.exchanged_for_billing(platform, account.access_token)
    charge = billing_pb2.ChargeRequest(
        order_id=f"order-{secrets.token_hex(4)}",
        amount_cents=100,
        currency="EUR",
        idempotency_key=secrets.token_hex(8),
    )
    orders = KeptConnection(platform.plan.service("orders").base_url, account.bearer)
    with database_behind_a_proxy(platform, "billing") as database:
        billing = KeptConnection(platform.plan.service("billing").base_url, account.bearer)
        try:
            assert billing.ask("GET", "/v1/invoices").status == 200
            database.cut()
            listed = billing.ask("GET", "/v1/invoices")
            charged = probes.grpc_code(billing_grpc.Charge, charge, billing_token)
            placed = orders.ask("POST", "/v1/orders", ORDER)
            database.heal()
            paid = orders.ask("POST", f"/v1/orders/{placed.body['id']}/pay")
        finally:
            billing.close()
            orders.close()

    assert _is_503_with_retry_after(listed), listed
    assert charged is grpc.StatusCode.UNAVAILABLE  # was UNKNOWN: orders would not retry it
    assert (placed.status, placed.body["status"]) == (202, "payment_pending")
    assert (paid.status, paid.body["status"]) == (200, "paid"), paid
