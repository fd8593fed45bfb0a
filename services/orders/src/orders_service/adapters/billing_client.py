"""billing's Charge and Refund over gRPC, as the domain's PaymentGateway.

The channel carries tessera's ClientAuthInterceptor, which adds `x-request-id` and the
caller's identity to every call: not the user's own token, but one exchanged for it at auth
(RFC 8693: audience billing only, `act: orders`, DESIGN §6). A charge retried in the
background carries the exchanged token its order's request obtained (`authorization()`, then
`charge(..., authorization=...)`). This module maps gRPC status codes and exchange failures
to the orders exception tree so nothing above it knows about either.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import grpc
from tessera import TokenExchangeError
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera.grpc import ClientAuthInterceptor, TokenSource, calling_with
from tessera.grpc.metadata import metadata_value
from tessera.tokens.challenges import parse_challenge
from tessera.tokens.errors import InsufficientUserAuthenticationError

from orders_service.domain.payments import ChargeAuthorization
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


# gRPC's reconnect backoff grows to two minutes; capped at one second, a billing that comes
# back is found again within a second, and calls wait for it (up to their deadline).
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def open_billing_channel(target: str, token_source: TokenSource) -> Any:
    """The one channel to billing, created at start-up; `token_source` gives each call's token."""
    return grpc.aio.insecure_channel(
        target, options=_CHANNEL_OPTIONS, interceptors=[ClientAuthInterceptor(token_source)]
    )


def _payment_error(error: TokenExchangeError) -> PaymentError:
    """auth refused the user's token (401), or could not exchange it now (billing unreachable)."""
    if error.subject_token_rejected:
        return ChargeUnauthenticatedError(f"token exchange refused: {error.description}")
    return BillingUnavailableError(f"token exchange failed: {error.error}")


def token_expiry(token: str) -> datetime | None:
    """The `exp` of a token auth just issued to us, read without verifying it: it only says
    how long a retry may use the token (billing verifies it for real)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error, OverflowError):
        return None


class GrpcBillingGateway:
    """Charges and refunds through billing with a deadline on every call."""

    def __init__(
        self, channel: Any, *, deadline_seconds: float, token_source: TokenSource | None = None
    ) -> None:
        self._stub = billing_pb2_grpc.BillingServiceStub(channel)
        self._deadline = deadline_seconds
        self._token_source = token_source

    async def authorization(self) -> ChargeAuthorization | None:
        if self._token_source is None:
            return None
        try:
            token = await self._token_source()
        except TokenExchangeError:
            return None  # auth unreachable or refusing: this order cannot be retried for them
        expires_at = token_expiry(token) if token else None
        return (
            None if token is None or expires_at is None else ChargeAuthorization(token, expires_at)
        )

    async def charge(
        self,
        *,
        order_id: str,
        amount_cents: int,
        currency: str,
        idempotency_key: str,
        authorization: ChargeAuthorization | None = None,
    ) -> str:
        request = billing_pb2.ChargeRequest(
            order_id=order_id,
            amount_cents=amount_cents,
            currency=currency,
            idempotency_key=idempotency_key,
        )
        with calling_with(authorization.token) if authorization else contextlib.nullcontext():
            invoice = await self._call(self._stub.Charge, request)
        return str(invoice.id)

    async def refund(self, *, invoice_id: str, idempotency_key: str, reason: str) -> None:
        request = billing_pb2.RefundRequest(
            invoice_id=invoice_id, idempotency_key=idempotency_key, reason=reason
        )
        await self._call(self._stub.Refund, request)

    async def _call(self, method: Any, request: Any) -> billing_pb2.Invoice:
        """One call with the deadline; exchange and gRPC failures become PaymentErrors.

        wait_for_ready: a call made while the channel reconnects (billing restarting) waits
        for it instead of failing at once; the deadline still bounds every call.
        """
        try:
            invoice: billing_pb2.Invoice = await method(
                request, timeout=self._deadline, wait_for_ready=True
            )
        except TokenExchangeError as error:
            raise _payment_error(error) from error
        except grpc.aio.AioRpcError as error:
            step_up = _step_up_challenge(error)
            if step_up is not None:
                raise step_up from error
            raise _ERRORS.get(error.code(), BillingFailedError)(
                f"billing answered {error.code().name}: {error.details()}"
            ) from error
        return invoice


def _step_up_challenge(error: grpc.aio.AioRpcError) -> InsufficientUserAuthenticationError | None:
    """billing's RFC 9470 challenge (UNAUTHENTICATED with `insufficient_user_authentication` in
    the trailing `www-authenticate`) as the error tessera answers over HTTP with the same
    challenge; None for any other failure."""
    if error.code() is not grpc.StatusCode.UNAUTHENTICATED:
        return None
    params = parse_challenge(metadata_value(error.trailing_metadata(), "www-authenticate") or "")
    if params.get("error") != "insufficient_user_authentication":
        return None
    max_age = params.get("max_age", "")
    return InsufficientUserAuthenticationError(
        params.get("error_description", "A more recent authentication is required"),
        max_age=int(max_age) if max_age.isdigit() else None,
        acr_values=params.get("acr_values"),
    )
