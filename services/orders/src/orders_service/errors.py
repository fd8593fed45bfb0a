"""The orders service's exception tree, mapped once to HTTP status codes.

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

This module imports no framework; the HTTP handler reads `http_status` (and `retry_after`,
sent as `Retry-After` on transient failures), and the billing client raises the
`PaymentError` subclasses from gRPC status codes.
"""

from __future__ import annotations


class OrdersError(Exception):
    """Base of every failure the orders service reports; `str(error)` is safe to show."""

    http_status = 500
    title = "Orders error"
    www_authenticate: str | None = None
    retry_after: int | None = None
    """Seconds after which a retry may succeed (the `Retry-After` header), if it may."""


class InvalidOrderError(OrdersError):
    """Raised when an order breaks a rule of `domain.orders.new_order`."""

    http_status = 422
    title = "Invalid order"


class OrderNotFoundError(OrdersError):
    """Raised for an unknown order and for anybody else's, so ids cannot be probed."""

    http_status = 404
    title = "Order not found"


class OrderStateError(OrdersError):
    """Raised when the order cannot be paid or cancelled in its current status."""

    http_status = 409
    title = "Conflict"


class IdempotencyKeyReusedError(OrdersError):
    """Raised when an Idempotency-Key comes back with a different request body."""

    http_status = 422
    title = "Idempotency key reused"


class RequestInProgressError(OrdersError):
    """Raised for a retry that arrives while the key's first request is still running."""

    http_status = 409
    title = "Request in progress"
    retry_after = 1


class PaymentError(OrdersError):
    """Raised when billing's Charge did not succeed."""

    http_status = 502
    title = "Payment failed"


class BillingUnavailableError(PaymentError):
    """Raised when billing cannot be reached in time; the charge may be retried later."""

    http_status = 503
    title = "Billing unavailable"
    retry_after = 5


class ChargeUnauthenticatedError(PaymentError):
    """Raised when billing does not accept the caller's token (UNAUTHENTICATED)."""

    http_status = 401
    title = "Unauthorized"
    www_authenticate = 'Bearer error="invalid_token"'


class ChargeForbiddenError(PaymentError):
    """Raised when billing refuses the caller the charge (PERMISSION_DENIED)."""

    http_status = 403
    title = "Forbidden"


class ChargeRejectedError(PaymentError):
    """Raised when billing refuses the charge as invalid (INVALID_ARGUMENT); no retry helps."""

    http_status = 422
    title = "Charge rejected"


class BillingFailedError(PaymentError):
    """Raised for any other gRPC status from billing."""

    http_status = 502
    title = "Billing failed"
