"""The orders service's exception tree; `tessera` maps it once to HTTP (problem+json).

```
OrdersError                       base class; never raised itself
├── InvalidOrderError             items, quantities, prices or currency out of range  422
├── OrderNotFoundError            unknown, or somebody else's                        404
├── OrderStateError               the order's status does not allow the action       409
├── IdempotencyKeyReusedError     the key was first used with another request body   422
├── RequestInProgressError        the key's first request has not answered yet       409
└── PaymentError                  billing did not charge (or refund) the order
    ├── BillingUnavailableError   unreachable or past the deadline (transient)       503
    │                             (POST /v1/orders keeps the order payment_pending: 202)
    ├── ChargeUnauthenticatedError  billing refused the forwarded token              401
    ├── ChargeForbiddenError      billing refused the caller's permissions           403
    ├── ChargeRejectedError       billing refused the charge itself (INVALID_ARGUMENT) 422
    └── BillingFailedError        any other answer from billing                      502
```

A refund refused for a too-old sign-in is not in this tree: it is tessera's
`InsufficientUserAuthenticationError` (401 with billing's RFC 9470 challenge, from the billing
client, or from orders' own check before it charges a pending order it cancels).

This module imports no framework: each class states its status (and `retry_after`, sent as
`Retry-After` on transient failures); the billing client raises the `PaymentError` subclasses
from gRPC status codes.
"""

from __future__ import annotations

from tessera.errors import ServiceError


class OrdersError(ServiceError, title="Orders error"):
    """Base of every failure the orders service reports; `str(error)` is safe to show."""


class InvalidOrderError(OrdersError, http_status=422, title="Invalid order"):
    """Raised when an order breaks a rule of `domain.orders.new_order`."""


class OrderNotFoundError(OrdersError, http_status=404, title="Order not found"):
    """Raised for an unknown order and for anybody else's, so ids cannot be probed."""


class OrderStateError(OrdersError, http_status=409, title="Conflict"):
    """Raised when the order cannot be paid or cancelled in its current status."""


class IdempotencyKeyReusedError(OrdersError, http_status=422, title="Idempotency key reused"):
    """Raised when an Idempotency-Key comes back with a different request body."""


class RequestInProgressError(
    OrdersError, http_status=409, title="Request in progress", retry_after=1
):
    """Raised for a retry that arrives while the key's first request is still running."""


class PaymentError(OrdersError, http_status=502, title="Payment failed"):
    """Raised when billing's Charge did not succeed."""


class BillingUnavailableError(
    PaymentError, http_status=503, title="Billing unavailable", retry_after=5
):
    """Raised when billing cannot be reached in time; the charge may be retried later."""


class ChargeUnauthenticatedError(PaymentError, http_status=401, title="Unauthorized"):
    """Raised when billing does not accept the caller's token (UNAUTHENTICATED)."""

    www_authenticate = 'Bearer error="invalid_token"'


class ChargeForbiddenError(PaymentError, http_status=403, title="Forbidden"):
    """Raised when billing refuses the caller the charge (PERMISSION_DENIED)."""


class ChargeRejectedError(PaymentError, http_status=422, title="Charge rejected"):
    """Raised when billing refuses the charge as invalid (INVALID_ARGUMENT); no retry helps."""


class BillingFailedError(PaymentError, http_status=502, title="Billing failed"):
    """Raised for any other gRPC status from billing."""
