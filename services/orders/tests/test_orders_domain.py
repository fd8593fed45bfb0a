"""Order rules, without storage or transport."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from orders_service.domain.orders import (
    OrderLine,
    OrderStatus,
    may_view,
    new_order,
    paid,
    payment_failed,
)
from orders_service.errors import InvalidOrderError

NOW = datetime(2025, 1, 2, tzinfo=UTC)


def _order(lines: list[OrderLine], currency: str = "EUR") -> object:
    return new_order(order_id="o1", owner_id="alice", lines=lines, currency=currency, now=NOW)


def test_the_total_is_the_sum_of_quantity_times_unit_price() -> None:
    order = new_order(
        order_id="o1",
        owner_id="alice",
        lines=[OrderLine("tea", 2, 350), OrderLine("cup", 1, 1200), OrderLine("gift", 1, 0)],
        currency="EUR",
        now=NOW,
    )
    assert order.total_cents == 1900
    assert order.status is OrderStatus.PAYMENT_PENDING


@pytest.mark.parametrize(
    ("lines", "currency", "complaint"),
    [
        ([], "EUR", "1 to 100 items"),
        ([OrderLine("tea", 1, 1)] * 101, "EUR", "1 to 100 items"),
        ([OrderLine("tea", 0, 1)], "EUR", "quantity"),
        ([OrderLine("tea", 1001, 1)], "EUR", "quantity"),
        ([OrderLine("tea", 1, -1)], "EUR", "negative"),
        ([OrderLine(" ", 1, 1)], "EUR", "sku"),
        ([OrderLine("tea", 1, 1)], "eur", "ISO 4217"),
        ([OrderLine("tea", 1, 0)], "EUR", "total > 0"),
    ],
)
def test_an_order_outside_the_rules_is_refused(
    lines: list[OrderLine], currency: str, complaint: str
) -> None:
    with pytest.raises(InvalidOrderError, match=complaint):
        _order(lines, currency)


def test_payment_moves_the_status_and_records_the_invoice() -> None:
    order = new_order(
        order_id="o1", owner_id="alice", lines=[OrderLine("t", 1, 5)], currency="EUR", now=NOW
    )
    assert (paid(order, invoice_id="inv-1").status, paid(order, invoice_id="inv-1").invoice_id) == (
        OrderStatus.PAID,
        "inv-1",
    )
    assert payment_failed(order).status is OrderStatus.PAYMENT_FAILED


def test_an_order_is_visible_to_its_owner_and_admins_only() -> None:
    order = new_order(
        order_id="o1", owner_id="alice", lines=[OrderLine("t", 1, 5)], currency="EUR", now=NOW
    )
    assert may_view(order, viewer_id="alice", viewer_is_admin=False)
    assert may_view(order, viewer_id="root", viewer_is_admin=True)
    assert not may_view(order, viewer_id="bob", viewer_is_admin=False)
