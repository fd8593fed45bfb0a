"""The orders service's exception tree, mapped once to HTTP status codes.

```
OrdersError                       base class; never raised itself
├── InvalidOrderError             items, quantities, prices or currency out of range  422
├── OrderNotFoundError            unknown, or somebody else's                        404
└── PaymentError                  billing did not charge the order
    ├── BillingUnavailableError   unreachable or past the deadline (transient)       503
    │                             (POST /v1/orders keeps the order payment_pending: 202)
    ├── ChargeUnauthenticatedError  billing refused the forwarded token              401
    ├── ChargeForbiddenError      billing refused the caller's permissions           403
    ├── ChargeRejectedError       billing refused the charge itself (INVALID_ARGUMENT) 422
    └── BillingFailedError        any other answer from billing                      502
```

This module imports no framework; the HTTP handler reads `http_status`, and the billing
client raises the `PaymentError` subclasses from gRPC status codes.
"""

from __future__ import annotations


class OrdersError(Exception):
    """Base of every failure the orders service reports; `str(error)` is safe to show."""

    http_status = 500
    title = "Orders error"
    www_authenticate: str | None = None


class InvalidOrderError(OrdersError):
    """Raised when an order breaks a rule of `domain.orders.new_order`."""

    http_status = 422
    title = "Invalid order"


class OrderNotFoundError(OrdersError):
    """Raised for an unknown order and for anybody else's, so ids cannot be probed."""

    http_status = 404
    title = "Order not found"


class PaymentError(OrdersError):
    """Raised when billing's Charge did not succeed."""

    http_status = 502
    title = "Payment failed"


class BillingUnavailableError(PaymentError):
    """Raised when billing cannot be reached in time; the charge may be retried later."""

    http_status = 503
    title = "Billing unavailable"


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
