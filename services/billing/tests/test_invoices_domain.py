"""Invoice rules, without any storage or transport."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from billing_service.domain.invoices import (
    Invoice,
    InvoiceStatus,
    new_paid_invoice,
    refunded,
    validate_charge,
)
from billing_service.domain.paging import (
    PageCursor,
    clamp_page_size,
    decode_page_token,
    encode_page_token,
)
from billing_service.errors import InvalidChargeError, InvalidPageTokenError

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("amount", [0, -1])
def test_a_charge_of_nothing_or_less_is_refused(amount: int) -> None:
    with pytest.raises(InvalidChargeError, match="amount_cents"):
        validate_charge(amount_cents=amount, currency="EUR", idempotency_key="k")


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "", "E1R"])
def test_a_currency_that_is_not_three_uppercase_letters_is_refused(currency: str) -> None:
    with pytest.raises(InvalidChargeError, match="currency"):
        validate_charge(amount_cents=1, currency=currency, idempotency_key="k")


def test_a_charge_without_an_idempotency_key_is_refused() -> None:
    with pytest.raises(InvalidChargeError, match="idempotency_key"):
        validate_charge(amount_cents=1, currency="EUR", idempotency_key="")


def _invoice() -> Invoice:
    return new_paid_invoice(
        invoice_id="inv-1",
        user_id="user-1",
        order_id="order-1",
        amount_cents=1250,
        currency="EUR",
        idempotency_key="order-1",
        now=NOW,
    )


def test_a_new_invoice_is_paid() -> None:
    invoice = _invoice()
    assert invoice.status is InvoiceStatus.PAID
    assert invoice.is_same_charge(order_id="order-1", amount_cents=1250, currency="EUR")
    assert not invoice.is_same_charge(order_id="order-1", amount_cents=1251, currency="EUR")


def test_refunding_a_paid_invoice_records_when_and_why() -> None:
    invoice = _invoice()
    after = refunded(invoice, reason="cancelled", now=NOW)
    assert (after.status, after.refunded_at, after.refund_reason) == (
        InvoiceStatus.REFUNDED,
        NOW,
        "cancelled",
    )
    assert refunded(after, reason="again", now=NOW) is after


def test_a_page_token_round_trips_and_garbage_is_refused() -> None:
    cursor = PageCursor(NOW, "inv-9")
    assert decode_page_token(encode_page_token(cursor)) == cursor
    assert decode_page_token("") is None
    with pytest.raises(InvalidPageTokenError):
        decode_page_token("not a token")


def test_page_size_defaults_when_unset_and_is_capped() -> None:
    assert clamp_page_size(0, maximum=100) == 20
    assert clamp_page_size(5, maximum=100) == 5
    assert clamp_page_size(10_000, maximum=100) == 100
