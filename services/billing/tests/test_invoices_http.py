"""The invoices HTTP API, on a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import httpx
from fastapi import FastAPI
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc

IssueToken = Callable[..., str]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _charge(app: FastAPI, token: str, order_id: str) -> Any:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.state.grpc_port}") as channel:
        return await billing_pb2_grpc.BillingServiceStub(channel).Charge(
            billing_pb2.ChargeRequest(
                order_id=order_id, amount_cents=700, currency="USD", idempotency_key=order_id
            ),
            metadata=(("authorization", f"Bearer {token}"),),
        )


async def test_the_caller_lists_their_own_invoices_newest_first(
    billing_app: FastAPI,
    http: httpx.AsyncClient,
    issue_token: IssueToken,
    issue_exchanged_token: IssueToken,
) -> None:
    alice = issue_token("alice")
    first = await _charge(billing_app, issue_exchanged_token("alice"), "order-1")
    second = await _charge(billing_app, issue_exchanged_token("alice"), "order-2")
    await _charge(billing_app, issue_exchanged_token("bob"), "order-3")

    response = await http.get("/v1/invoices", headers=_bearer(alice))

    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["items"]]
    assert sorted(ids) == sorted([first.id, second.id])


async def test_an_invoice_is_visible_to_its_owner_and_to_admins_only(
    billing_app: FastAPI,
    http: httpx.AsyncClient,
    issue_token: IssueToken,
    issue_exchanged_token: IssueToken,
) -> None:
    invoice = await _charge(billing_app, issue_exchanged_token("alice"), "order-1")
    path = f"/v1/invoices/{invoice.id}"

    own = await http.get(path, headers=_bearer(issue_token("alice")))
    other = await http.get(path, headers=_bearer(issue_token("bob")))
    admin = await http.get(path, headers=_bearer(issue_token("root", roles=("user", "admin"))))

    assert own.status_code == 200
    assert own.json()["amount_cents"] == 700
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert admin.status_code == 200


async def test_reading_invoices_without_a_token_is_401_with_a_bearer_challenge(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/v1/invoices")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_reading_invoices_without_the_scope_is_403(
    http: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    response = await http.get("/v1/invoices", headers=_bearer(issue_token(scope="orders:read")))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_readiness_reports_the_database_and_the_keys(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
