"""Invoices: the one record of a charge, and the rules for creating and refunding one."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billing_service.errors import InvalidChargeError, NotRefundableError

_ISO_4217 = re.compile(r"[A-Z]{3}")


class InvoiceStatus(StrEnum):
    """Where an invoice is in its life; only `paid` invoices can be refunded."""

    PAID = "paid"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class Invoice:
    """A charge made for one order of one user. Money is integer cents plus an ISO 4217 code."""

    id: str
    order_id: str
    user_id: str
    amount_cents: int
    currency: str
    status: InvoiceStatus
    idempotency_key: str
    created_at: datetime
    refunded_at: datetime | None = None
    refund_reason: str | None = None

    def is_same_charge(self, *, order_id: str, amount_cents: int, currency: str) -> bool:
        """Whether a retried charge asks for exactly what this invoice already charged."""
        return (self.order_id, self.amount_cents, self.currency) == (
            order_id,
            amount_cents,
            currency,
        )


def validate_charge(*, amount_cents: int, currency: str, idempotency_key: str) -> None:
    """Refuse a charge billing must never make: nothing to pay, unknown money, no retry key."""
    if amount_cents <= 0:
        raise InvalidChargeError("amount_cents must be greater than zero")
    if not _ISO_4217.fullmatch(currency):
        raise InvalidChargeError("currency must be a three-letter uppercase ISO 4217 code")
    if not idempotency_key or len(idempotency_key) > 200:
        raise InvalidChargeError("idempotency_key is required (at most 200 characters)")


def new_paid_invoice(
    *,
    invoice_id: str,
    user_id: str,
    order_id: str,
    amount_cents: int,
    currency: str,
    idempotency_key: str,
    now: datetime,
) -> Invoice:
    """A validated invoice for a successful charge (the skeleton has no payment provider)."""
    validate_charge(amount_cents=amount_cents, currency=currency, idempotency_key=idempotency_key)
    return Invoice(
        id=invoice_id,
        order_id=order_id,
        user_id=user_id,
        amount_cents=amount_cents,
        currency=currency,
        status=InvoiceStatus.PAID,
        idempotency_key=idempotency_key,
        created_at=now,
    )


def refunded(invoice: Invoice, *, reason: str, now: datetime) -> Invoice:
    """The invoice after a full refund; refunding a refunded invoice changes nothing."""
    if invoice.status is InvoiceStatus.REFUNDED:
        return invoice
    if invoice.status is not InvoiceStatus.PAID:
        raise NotRefundableError(f"an invoice that is {invoice.status} cannot be refunded")
    return dataclasses.replace(
        invoice, status=InvoiceStatus.REFUNDED, refunded_at=now, refund_reason=reason or None
    )
