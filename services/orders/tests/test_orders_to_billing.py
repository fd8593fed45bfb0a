"""orders -> billing over real gRPC on loopback: identity, request id, billing down."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from tessera import current_principal_var, request_id_var

from .conftest import InTestExchange

IssueToken = Callable[..., str]

TEA = {"items": [{"sku": "tea", "quantity": 1, "unit_price_cents": 450}], "currency": "GBP"}


class ChargeWitness(logging.Handler):
    """Records who billing believed was calling, and under which request id, at each charge."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[tuple[str | None, str | None, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        principal = current_principal_var.get()
        self.seen.append(
            (
                principal.sub if principal else None,
                principal.actor if principal else None,
                request_id_var.get(),
            )
        )


@pytest.fixture
def charge_witness() -> Iterator[ChargeWitness]:
    logger = logging.getLogger("billing_service.grpc_api.servicer")
    witness, level = ChargeWitness(), logger.level
    logger.addHandler(witness)
    logger.setLevel(logging.INFO)
    try:
        yield witness
    finally:
        logger.removeHandler(witness)
        logger.setLevel(level)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/orders.db"


async def test_the_charge_carries_the_callers_identity_and_request_id(
    orders: httpx.AsyncClient, issue_token: IssueToken, charge_witness: ChargeWitness
) -> None:
    response = await orders.post(
        "/v1/orders",
        json=TEA,
        headers={"Authorization": f"Bearer {issue_token('alice')}", "X-Request-ID": "req-e2e-42"},
    )

    assert response.status_code == 201
    assert response.headers["x-request-id"] == "req-e2e-42"
    assert charge_witness.seen == [("alice", "orders", "req-e2e-42")]


async def test_a_token_the_exchange_refuses_is_401_and_the_order_stays_pending(
    orders: httpx.AsyncClient, issue_token: IssueToken, exchange: InTestExchange
) -> None:
    exchange.revoked_sessions.add("session-of-alice")  # auth answers invalid_grant
    headers = {"Authorization": f"Bearer {issue_token('alice')}"}

    response = await orders.post("/v1/orders", json=TEA, headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    [order] = (await orders.get("/v1/orders", headers=headers)).json()["items"]
    assert (order["status"], order["invoice_id"]) == ("payment_pending", None)


async def test_when_billing_is_down_the_order_is_kept_payment_pending_with_202(
    orders_without_billing: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    headers = {"Authorization": f"Bearer {issue_token('alice')}"}

    response = await orders_without_billing.post("/v1/orders", json=TEA, headers=headers)

    assert response.status_code == 202
    assert (response.json()["status"], response.json()["invoice_id"]) == ("payment_pending", None)
    stored = await orders_without_billing.get(
        f"/v1/orders/{response.json()['id']}", headers=headers
    )
    assert stored.json()["status"] == "payment_pending"


async def test_when_auth_cannot_exchange_the_order_is_kept_payment_pending_with_202(
    orders: httpx.AsyncClient, issue_token: IssueToken, exchange: InTestExchange
) -> None:
    exchange.auth_down = True
    headers = {"Authorization": f"Bearer {issue_token('alice')}"}

    response = await orders.post("/v1/orders", json=TEA, headers=headers)

    assert response.status_code == 202
    assert response.json()["status"] == "payment_pending"
