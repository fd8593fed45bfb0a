"""Server and client interceptors over a real grpc.aio server on 127.0.0.1 (billing stubs)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sqlalchemy.exc import OperationalError
from tessera import TokenVerifier, request_id_var
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera.grpc import ClientAuthInterceptor, ServerAuthInterceptor, grpc_principal
from tessera.grpc.server import answers_service_errors

Mint = Callable[..., str]


class RecordingBilling(billing_pb2_grpc.BillingServiceServicer):
    """Answers Charge with what the interceptor told it about the caller."""

    async def Charge(  # noqa: N802 - generated method name
        self, request: billing_pb2.ChargeRequest, context: Any
    ) -> billing_pb2.Invoice:
        principal = grpc_principal()
        return billing_pb2.Invoice(
            id=request_id_var.get() or "",
            order_id=request.order_id,
            user_id=principal.sub,
            currency=principal.actor or "",
        )

    async def Refund(  # noqa: N802
        self, request: billing_pb2.RefundRequest, context: Any
    ) -> billing_pb2.Invoice:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in this test")
        raise AssertionError

    @answers_service_errors
    async def GetInvoice(  # noqa: N802
        self, request: billing_pb2.GetInvoiceRequest, context: Any
    ) -> billing_pb2.Invoice:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError())  # the database away

    async def ListInvoices(  # noqa: N802
        self, request: billing_pb2.ListInvoicesRequest, context: Any
    ) -> billing_pb2.ListInvoicesResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in this test")
        raise AssertionError


@pytest.fixture
async def target(verifier: TokenVerifier) -> AsyncIterator[str]:
    server = grpc.aio.server(interceptors=[ServerAuthInterceptor(verifier)])
    billing_pb2_grpc.add_BillingServiceServicer_to_server(RecordingBilling(), server)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(grace=None)


def token_source(token: str | None) -> ClientAuthInterceptor:
    async def source() -> str | None:
        return token

    return ClientAuthInterceptor(source)


async def charge(target: str, token: str | None) -> billing_pb2.Invoice:
    async with grpc.aio.insecure_channel(target, interceptors=[token_source(token)]) as channel:
        stub = billing_pb2_grpc.BillingServiceStub(channel)
        request = billing_pb2.ChargeRequest(order_id="order-1", amount_cents=100, currency="EUR")
        invoice: billing_pb2.Invoice = await stub.Charge(request, timeout=5)
        return invoice


async def test_a_forged_token_is_unauthenticated(target: str, mint: Mint, other_key: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await charge(target, mint(key=other_key))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.details() == "The token signature is invalid"


async def test_a_call_without_a_token_is_unauthenticated(target: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await charge(target, None)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_servicer_sees_the_verified_principal(
    target: str, mint: Mint, claims: Callable[..., dict[str, Any]]
) -> None:
    invoice = await charge(target, mint(claims(act={"sub": "orders"})))
    assert invoice.user_id == "user-1"
    assert invoice.currency == "orders"  # the actor, smuggled back through a string field


async def test_the_request_id_follows_the_call(target: str, mint: Mint) -> None:
    reset = request_id_var.set("req-from-http")
    try:
        invoice = await charge(target, mint())
    finally:
        request_id_var.reset(reset)
    assert invoice.id == "req-from-http"


async def test_the_health_service_needs_no_token(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_database_outage_in_a_servicer_is_unavailable_not_unknown(
    target: str, mint: Mint
) -> None:
    async with grpc.aio.insecure_channel(target, interceptors=[token_source(mint())]) as channel:
        stub = billing_pb2_grpc.BillingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetInvoice(billing_pb2.GetInvoiceRequest(id="inv-1"), timeout=5)

    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE  # callers retry UNAVAILABLE
    assert "SELECT" not in (refused.value.details() or "")
