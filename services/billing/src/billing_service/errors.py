"""billing's exception tree, mapped once to HTTP and gRPC status codes.

```
BillingError                    base class; never raised itself
├── InvalidChargeError          bad amount or currency         422 / INVALID_ARGUMENT
├── IdempotencyKeyReusedError   same key, different charge     422 / INVALID_ARGUMENT
├── InvalidPageTokenError       a page token we did not issue  422 / INVALID_ARGUMENT
├── PermissionDeniedError       the token lacks what a call needs  403 / PERMISSION_DENIED
├── InvoiceNotFoundError        unknown, or somebody else's    404 / NOT_FOUND
└── NotRefundableError          the invoice cannot be refunded 409 / FAILED_PRECONDITION
```

The codes are plain names so this module (and the domain raising these) imports no framework;
the HTTP handler and the gRPC servicer read `http_status` and `grpc_code`.
"""

from __future__ import annotations


class BillingError(Exception):
    """Base of every failure billing reports to its callers; `str(error)` is safe to show."""

    http_status = 500
    grpc_code = "INTERNAL"
    title = "Billing error"


class InvalidChargeError(BillingError):
    """Raised when a charge has a non-positive amount or a currency that is not ISO 4217."""

    http_status = 422
    grpc_code = "INVALID_ARGUMENT"
    title = "Invalid charge"


class IdempotencyKeyReusedError(BillingError):
    """Raised when an idempotency key already charged a different order, amount or currency."""

    http_status = 422
    grpc_code = "INVALID_ARGUMENT"
    title = "Idempotency key reused"


class InvalidPageTokenError(BillingError):
    """Raised when a page token is not one billing issued."""

    http_status = 422
    grpc_code = "INVALID_ARGUMENT"
    title = "Invalid page token"


class PermissionDeniedError(BillingError):
    """Raised when a verified caller lacks the scope (or acting service) a call needs."""

    http_status = 403
    grpc_code = "PERMISSION_DENIED"
    title = "Forbidden"


class InvoiceNotFoundError(BillingError):
    """Raised for an unknown invoice and for anybody else's, so ids cannot be probed."""

    http_status = 404
    grpc_code = "NOT_FOUND"
    title = "Invoice not found"


class NotRefundableError(BillingError):
    """Raised when an invoice is in a state that cannot be refunded."""

    http_status = 409
    grpc_code = "FAILED_PRECONDITION"
    title = "Invoice not refundable"
