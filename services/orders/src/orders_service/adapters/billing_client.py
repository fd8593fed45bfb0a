"""billing's Charge over gRPC, as the domain's PaymentGateway.

The channel carries tessera's ClientAuthInterceptor, which adds the caller's identity
(`authorization`) and `x-request-id` to every call; this module maps gRPC status codes to the
orders exception tree so nothing above it knows about gRPC.
"""

from __future__ import annotations

from typing import Any

import grpc
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera.grpc import ClientAuthInterceptor, forward_current_token

from orders_service.errors import (
    BillingFailedError,
    BillingUnavailableError,
    ChargeForbiddenError,
    ChargeRejectedError,
    ChargeUnauthenticatedError,
    PaymentError,
)

_ERRORS: dict[Any, type[PaymentError]] = {
    grpc.StatusCode.UNAVAILABLE: BillingUnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: BillingUnavailableError,
    grpc.StatusCode.UNAUTHENTICATED: ChargeUnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: ChargeForbiddenError,
    grpc.StatusCode.INVALID_ARGUMENT: ChargeRejectedError,
}


def open_billing_channel(target: str) -> Any:
    """The one channel to billing, created at start-up (skeleton: forwards the user's token)."""
    return grpc.aio.insecure_channel(
        target, interceptors=[ClientAuthInterceptor(forward_current_token)]
    )


class GrpcBillingGateway:
    """Charges through billing with a deadline on every call."""

    def __init__(self, channel: Any, *, deadline_seconds: float) -> None:
        self._stub = billing_pb2_grpc.BillingServiceStub(channel)
        self._deadline = deadline_seconds

    async def charge(
        self, *, order_id: str, amount_cents: int, currency: str, idempotency_key: str
    ) -> str:
        request = billing_pb2.ChargeRequest(
            order_id=order_id,
            amount_cents=amount_cents,
            currency=currency,
            idempotency_key=idempotency_key,
        )
        try:
            invoice = await self._stub.Charge(request, timeout=self._deadline)
        except grpc.aio.AioRpcError as error:
            raise _ERRORS.get(error.code(), BillingFailedError)(
                f"billing answered {error.code().name}: {error.details()}"
            ) from error
        return str(invoice.id)
