"""The BillingService servicer: read the request and the caller, call one use case, answer.

Identity comes from the ContextVar set by tessera's ServerAuthInterceptor (never from the
message); the interceptor has already answered UNAUTHENTICATED for a missing or bad token, and
`answers_service_errors` turns billing's own errors into their gRPC status codes.
"""

from __future__ import annotations

import logging

import grpc
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera.grpc import answers_service_errors, grpc_principal

from billing_service.domain.invoices import Invoice
from billing_service.use_cases import Invoices

logger = logging.getLogger(__name__)


def invoice_message(invoice: Invoice) -> billing_pb2.Invoice:
    """The wire form of an invoice; created_at as RFC 3339 UTC."""
    return billing_pb2.Invoice(
        id=invoice.id,
        order_id=invoice.order_id,
        user_id=invoice.user_id,
        amount_cents=invoice.amount_cents,
        currency=invoice.currency,
        status=invoice.status.value,
        created_at=invoice.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    """tessera.billing.v1.BillingService backed by the `Invoices` use cases."""

    def __init__(self, invoices: Invoices) -> None:
        self._invoices = invoices

    @answers_service_errors
    async def Charge(  # noqa: N802 - the method name is fixed by the proto
        self, request: billing_pb2.ChargeRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.Invoice:
        invoice = await self._invoices.charge(
            grpc_principal(),
            order_id=request.order_id,
            amount_cents=request.amount_cents,
            currency=request.currency,
            idempotency_key=request.idempotency_key,
        )
        # The JSON log adds request_id and sub from the context set by the interceptor.
        logger.info("charge", extra={"order_id": invoice.order_id, "invoice_id": invoice.id})
        return invoice_message(invoice)

    @answers_service_errors
    async def Refund(  # noqa: N802
        self, request: billing_pb2.RefundRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.Invoice:
        invoice = await self._invoices.refund(
            grpc_principal(), invoice_id=request.invoice_id, reason=request.reason
        )
        return invoice_message(invoice)

    @answers_service_errors
    async def GetInvoice(  # noqa: N802
        self, request: billing_pb2.GetInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.Invoice:
        return invoice_message(await self._invoices.get(grpc_principal(), request.id))

    @answers_service_errors
    async def ListInvoices(  # noqa: N802
        self, request: billing_pb2.ListInvoicesRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ListInvoicesResponse:
        page = await self._invoices.list(
            grpc_principal(), page_size=request.page_size, page_token=request.page_token
        )
        return billing_pb2.ListInvoicesResponse(
            invoices=[invoice_message(invoice) for invoice in page.invoices],
            next_page_token=page.next_page_token,
        )
