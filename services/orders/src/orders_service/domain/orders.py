"""Orders: what a valid order is, what it costs, and how its status moves."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from orders_service.errors import InvalidOrderError

MAX_LINES = 100
MAX_QUANTITY = 1000
_ISO_4217 = re.compile(r"[A-Z]{3}")


class OrderStatus(StrEnum):
    """`payment_pending` until billing answers; paying later and cancelling move it on."""

    PAYMENT_PENDING = "payment_pending"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    CANCELLED = "cancelled"


class StatusReason(StrEnum):
    """Why an order is `payment_pending` or `payment_failed` (None for the other statuses)."""

    CHARGING = "charging"
    """Pending: its first charge is under way (or its request died; the reconciler retries)."""
    BILLING_UNAVAILABLE = "billing_unavailable"
    """Pending: billing could not be reached; the reconciler retries with backoff."""
    CHARGE_REJECTED = "charge_rejected"
    """Failed: billing refused the charge itself."""
    AUTHORIZATION_EXPIRED = "authorization_expired"
    """Failed: the user's authorization to charge ran out (expired, or the session or user was
    revoked) before billing answered; the user may pay again."""


@dataclass(frozen=True, slots=True)
class OrderLine:
    """`quantity` of one `sku` at `unit_price_cents` each."""

    sku: str
    quantity: int
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True, slots=True)
class Order:
    """One user's order; the total is derived from the lines, never taken from the client."""

    id: str
    owner_id: str
    status: OrderStatus
    currency: str
    lines: tuple[OrderLine, ...]
    created_at: datetime
    invoice_id: str | None = None
    status_reason: StatusReason | None = None

    @property
    def total_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)


def new_order(
    *, order_id: str, owner_id: str, lines: list[OrderLine], currency: str, now: datetime
) -> Order:
    """A validated order awaiting payment; e.g. two teas at 350 cents cost 700 cents."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise InvalidOrderError(f"an order has 1 to {MAX_LINES} items")
    for line in lines:
        if not line.sku.strip():
            raise InvalidOrderError("every item needs a sku")
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InvalidOrderError(f"quantity must be between 1 and {MAX_QUANTITY}")
        if line.unit_price_cents < 0:
            raise InvalidOrderError("unit_price_cents must not be negative")
    if not _ISO_4217.fullmatch(currency):
        raise InvalidOrderError("currency must be a three-letter uppercase ISO 4217 code")
    order = Order(
        id=order_id,
        owner_id=owner_id,
        status=OrderStatus.PAYMENT_PENDING,
        currency=currency,
        lines=tuple(lines),
        created_at=now,
        status_reason=StatusReason.CHARGING,
    )
    if order.total_cents <= 0:
        raise InvalidOrderError("an order must cost something (total > 0)")
    return order


def paid(order: Order, *, invoice_id: str) -> Order:
    """The order once billing has charged it."""
    return dataclasses.replace(
        order, status=OrderStatus.PAID, invoice_id=invoice_id, status_reason=None
    )


def payment_failed(order: Order, reason: StatusReason = StatusReason.CHARGE_REJECTED) -> Order:
    """The order once its charge failed for good (`reason`: refused, or authorization gone)."""
    return dataclasses.replace(order, status=OrderStatus.PAYMENT_FAILED, status_reason=reason)


def still_pending(order: Order, reason: StatusReason) -> Order:
    """The order, still `payment_pending`, for `reason`."""
    return dataclasses.replace(order, status=OrderStatus.PAYMENT_PENDING, status_reason=reason)


def cancelled(order: Order, *, invoice_id: str | None) -> Order:
    """The order once cancelled; `invoice_id` is the refunded invoice, if it was charged."""
    return dataclasses.replace(
        order, status=OrderStatus.CANCELLED, invoice_id=invoice_id, status_reason=None
    )


PAYABLE = frozenset({OrderStatus.PAYMENT_PENDING, OrderStatus.PAYMENT_FAILED})
"""Statuses from which `pay` may charge (a failed one again: its authorization may have run
out, and a charge billing refused is refused again, never taken twice)."""

CANCELLABLE = frozenset({OrderStatus.PAYMENT_PENDING, OrderStatus.PAID, OrderStatus.PAYMENT_FAILED})
"""Statuses from which `cancel` may move an order to `cancelled`."""


def may_view(order: Order, *, viewer_id: str, viewer_is_admin: bool) -> bool:
    """An order is visible to its owner and to admins; to anyone else it does not exist."""
    return order.owner_id == viewer_id or viewer_is_admin
