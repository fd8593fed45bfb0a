"""BillingService over a real grpc.aio server on loopback, authenticated by TokenVerifier."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from tessera.billing.v1 import billing_pb2

IssueToken = Callable[..., str]

Stub = Any


def _as(token: str, request_id: str = "req-1") -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"), ("x-request-id", request_id))


def _charge(key: str = "order-1", amount: int = 1250) -> billing_pb2.ChargeRequest:
    return billing_pb2.ChargeRequest(
        order_id=key, amount_cents=amount, currency="EUR", idempotency_key=key
    )


async def _status_of(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value.code()


async def test_a_charge_creates_a_paid_invoice_for_the_calling_user(
    billing_stub: Stub, issue_exchanged_token: IssueToken
) -> None:
    invoice = await billing_stub.Charge(_charge(), metadata=_as(issue_exchanged_token("alice")))
    assert (invoice.user_id, invoice.order_id, invoice.amount_cents, invoice.currency) == (
        "alice",
        "order-1",
        1250,
        "EUR",
    )
    assert invoice.status == "paid"
    assert invoice.created_at.endswith("Z")


async def test_retrying_a_charge_returns_the_first_invoice(
    billing_stub: Stub, issue_exchanged_token: IssueToken
) -> None:
    token = issue_exchanged_token("alice")
    results = await asyncio.gather(
        *(billing_stub.Charge(_charge(), metadata=_as(token)) for _ in range(5))
    )
    assert len({invoice.id for invoice in results}) == 1
    listed = await billing_stub.ListInvoices(billing_pb2.ListInvoicesRequest(), metadata=_as(token))
    assert [invoice.id for invoice in listed.invoices] == [results[0].id]


async def test_reusing_an_idempotency_key_for_another_amount_is_invalid(
    billing_stub: Stub, issue_exchanged_token: IssueToken
) -> None:
    token = issue_exchanged_token("alice")
    await billing_stub.Charge(_charge(amount=100), metadata=_as(token))
    call = billing_stub.Charge(_charge(amount=999), metadata=_as(token))
    assert await _status_of(call) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(("amount", "currency"), [(0, "EUR"), (-5, "EUR"), (5, "eur"), (5, "EURO")])
async def test_an_invalid_charge_is_invalid_argument(
    billing_stub: Stub, issue_exchanged_token: IssueToken, amount: int, currency: str
) -> None:
    request = billing_pb2.ChargeRequest(
        order_id="o", amount_cents=amount, currency=currency, idempotency_key="o"
    )
    call = billing_stub.Charge(request, metadata=_as(issue_exchanged_token()))
    assert await _status_of(call) == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_forged_token_is_unauthenticated(
    billing_stub: Stub, issue_token: IssueToken
) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    call = billing_stub.Charge(_charge(), metadata=_as(issue_token(key=forger)))
    assert await _status_of(call) == grpc.StatusCode.UNAUTHENTICATED


async def test_a_call_without_a_token_is_unauthenticated(billing_stub: Stub) -> None:
    assert await _status_of(billing_stub.Charge(_charge())) == grpc.StatusCode.UNAUTHENTICATED


async def test_a_token_not_meant_for_billing_is_unauthenticated(
    billing_stub: Stub, issue_token: IssueToken
) -> None:
    token = issue_token(aud=("auth", "orders"))
    call = billing_stub.Charge(_charge(), metadata=_as(token))
    assert await _status_of(call) == grpc.StatusCode.UNAUTHENTICATED


async def test_a_users_own_token_cannot_charge_even_with_orders_write(
    billing_stub: Stub, issue_token: IssueToken
) -> None:
    call = billing_stub.Charge(_charge(), metadata=_as(issue_token("alice")))
    assert await _status_of(call) == grpc.StatusCode.PERMISSION_DENIED


async def test_a_service_token_without_a_user_session_cannot_charge(
    billing_stub: Stub, issue_token: IssueToken
) -> None:
    service_token = issue_token(
        "orders",
        scope="billing:charge billing:refund",
        aud=("billing",),
        act="orders",
        client_id="orders",
        with_session=False,
    )
    call = billing_stub.Charge(_charge(), metadata=_as(service_token))
    assert await _status_of(call) == grpc.StatusCode.PERMISSION_DENIED


async def test_a_token_exchanged_by_another_service_cannot_charge(
    billing_stub: Stub, issue_exchanged_token: IssueToken
) -> None:
    call = billing_stub.Charge(_charge(), metadata=_as(issue_exchanged_token(actor="reports")))
    assert await _status_of(call) == grpc.StatusCode.PERMISSION_DENIED


async def test_charging_without_billing_charge_is_permission_denied(
    billing_stub: Stub, issue_exchanged_token: IssueToken
) -> None:
    token = issue_exchanged_token(scope="invoices:read")
    call = billing_stub.Charge(_charge(), metadata=_as(token))
    assert await _status_of(call) == grpc.StatusCode.PERMISSION_DENIED


async def test_reading_invoices_without_invoices_read_is_permission_denied(
    billing_stub: Stub, issue_token: IssueToken
) -> None:
    call = billing_stub.ListInvoices(
        billing_pb2.ListInvoicesRequest(), metadata=_as(issue_token(scope="orders:write"))
    )
    assert await _status_of(call) == grpc.StatusCode.PERMISSION_DENIED


async def test_another_users_invoice_is_not_found(
    billing_stub: Stub, issue_exchanged_token: IssueToken
) -> None:
    invoice = await billing_stub.Charge(_charge(), metadata=_as(issue_exchanged_token("alice")))
    as_bob = _as(issue_exchanged_token("bob"))
    get = billing_stub.GetInvoice(billing_pb2.GetInvoiceRequest(id=invoice.id), metadata=as_bob)
    assert await _status_of(get) == grpc.StatusCode.NOT_FOUND
    refund = billing_stub.Refund(billing_pb2.RefundRequest(invoice_id=invoice.id), metadata=as_bob)
    assert await _status_of(refund) == grpc.StatusCode.NOT_FOUND
    listed = await billing_stub.ListInvoices(billing_pb2.ListInvoicesRequest(), metadata=as_bob)
    assert list(listed.invoices) == []


async def test_a_refund_is_recorded_once_and_repeating_it_returns_the_refunded_invoice(
    billing_stub: Stub, issue_exchanged_token: IssueToken
) -> None:
    token = issue_exchanged_token("alice")
    invoice = await billing_stub.Charge(_charge(), metadata=_as(token))
    request = billing_pb2.RefundRequest(invoice_id=invoice.id, idempotency_key="r1", reason="x")
    first = await billing_stub.Refund(request, metadata=_as(token))
    again = await billing_stub.Refund(request, metadata=_as(token))
    assert first.status == again.status == "refunded"
    fetched = await billing_stub.GetInvoice(
        billing_pb2.GetInvoiceRequest(id=invoice.id), metadata=_as(token)
    )
    assert fetched.status == "refunded"


async def test_a_refund_for_a_stale_authentication_is_unauthenticated_with_the_challenge(
    billing_stub: Stub, issue_token: IssueToken
) -> None:
    # RFC 9470: the refund rule lives where the money is (REFUND_MAX_AGE_SECONDS, 300)
    def exchanged(seconds_ago: int) -> str:
        return issue_token(
            "alice",
            scope="billing:charge billing:refund invoices:read",
            aud=("billing",),
            act="orders",
            client_id="orders",
            authenticated_seconds_ago=seconds_ago,
        )

    stale = exchanged(301)
    invoice = await billing_stub.Charge(_charge(), metadata=_as(stale))
    request = billing_pb2.RefundRequest(invoice_id=invoice.id, idempotency_key="r1", reason="x")

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await billing_stub.Refund(request, metadata=_as(stale))
    refunded = await billing_stub.Refund(request, metadata=_as(exchanged(10)))

    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    trailing = dict(refused.value.trailing_metadata() or ())
    assert trailing["www-authenticate"].startswith(
        'Bearer error="insufficient_user_authentication"'
    )
    assert 'max_age="300"' in trailing["www-authenticate"]
    assert refunded.status == "refunded"


async def test_the_health_service_answers_without_a_token(billing_on_sqlite: Any) -> None:
    port = billing_on_sqlite.state.grpc_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        answer = await health.Check(
            health_pb2.HealthCheckRequest(service="tessera.billing.v1.BillingService")
        )
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_billing_service_so_grpcurl_can_call_it(
    billing_on_sqlite: Any,
) -> None:
    port = billing_on_sqlite.state.grpc_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        answers = [answer async for answer in stub.ServerReflectionInfo(iter([request]))]
    services = {service.name for service in answers[0].list_services_response.service}
    assert "tessera.billing.v1.BillingService" in services
    assert "grpc.health.v1.Health" in services


async def test_a_users_own_token_cannot_refund(
    billing_stub: Stub, issue_token: IssueToken, issue_exchanged_token: IssueToken
) -> None:
    invoice = await billing_stub.Charge(_charge(), metadata=_as(issue_exchanged_token("alice")))
    refund = billing_pb2.RefundRequest(invoice_id=invoice.id, idempotency_key="r1", reason="x")

    call = billing_stub.Refund(refund, metadata=_as(issue_token("alice")))

    assert await _status_of(call) == grpc.StatusCode.PERMISSION_DENIED
    fetched = await billing_stub.GetInvoice(
        billing_pb2.GetInvoiceRequest(id=invoice.id), metadata=_as(issue_token("alice"))
    )
    assert fetched.status == "paid"


async def test_invoices_are_readable_by_the_user_directly_and_through_orders(
    billing_stub: Stub, issue_token: IssueToken, issue_exchanged_token: IssueToken
) -> None:
    invoice = await billing_stub.Charge(_charge(), metadata=_as(issue_exchanged_token("alice")))
    request = billing_pb2.GetInvoiceRequest(id=invoice.id)

    directly = await billing_stub.GetInvoice(request, metadata=_as(issue_token("alice")))
    via_orders = await billing_stub.GetInvoice(
        request, metadata=_as(issue_exchanged_token("alice", scope="invoices:read"))
    )

    assert directly.id == via_orders.id == invoice.id
