"""billing's exception tree; `tessera` maps it once to HTTP and gRPC status codes.

```
BillingError                    base class; never raised itself
├── InvalidArgumentError        the call's own arguments are refused  422 / INVALID_ARGUMENT
│   ├── InvalidChargeError      bad amount or currency
│   ├── IdempotencyKeyReusedError  same key, different charge
│   └── InvalidPageTokenError   a page token we did not issue
├── PermissionDeniedError       the token lacks what a call needs  403 / PERMISSION_DENIED
├── InvoiceNotFoundError        unknown, or somebody else's    404 / NOT_FOUND
└── NotRefundableError          the invoice cannot be refunded 409 / FAILED_PRECONDITION
```

The gRPC codes are plain names so this module (and the domain raising these) imports no
framework; the HTTP handlers and the gRPC servicer are `tessera`'s.
"""

from __future__ import annotations

from tessera.errors import ServiceError


class BillingError(ServiceError, title="Billing error"):
    """Base of every failure billing reports to its callers; `str(error)` is safe to show."""


class InvalidArgumentError(BillingError, http_status=422, grpc_code="INVALID_ARGUMENT"):
    """Base of the refusals of what a call asked for; no retry of the same call helps."""


class InvalidChargeError(InvalidArgumentError, title="Invalid charge"):
    """Raised when a charge has a non-positive amount or a currency that is not ISO 4217."""


class IdempotencyKeyReusedError(InvalidArgumentError, title="Idempotency key reused"):
    """Raised when an idempotency key already charged a different order, amount or currency."""


class InvalidPageTokenError(InvalidArgumentError, title="Invalid page token"):
    """Raised when a page token is not one billing issued."""


class PermissionDeniedError(
    BillingError, http_status=403, grpc_code="PERMISSION_DENIED", title="Forbidden"
):
    """Raised when a verified caller lacks the scope (or acting service) a call needs."""


class InvoiceNotFoundError(
    BillingError, http_status=404, grpc_code="NOT_FOUND", title="Invoice not found"
):
    """Raised for an unknown invoice and for anybody else's, so ids cannot be probed."""


class NotRefundableError(
    BillingError,
    http_status=409,
    grpc_code="FAILED_PRECONDITION",
    title="Invoice not refundable",
):
    """Raised when an invoice is in a state that cannot be refunded."""
