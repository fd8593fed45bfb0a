"""The CLI's lists: aligned columns under a header row, one row per order, invoice or device.

Each list's columns are declared here, so `orders`, `order create` and `order cancel` show an
order alike. The id comes first in every list (`awk 'NR > 1 {print $1}'` prints the ids), an
absent value is `-` rather than a blank, amounts are right-aligned in the currency's units:

    ID     STATUS      TOTAL  INVOICE
    ord_1  paid    25.00 EUR  inv_1
    ord_2  paid     1250 JPY  inv_2
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tessera_mobile.money import format_money

Row = Mapping[str, Any]
ABSENT = "-"


@dataclass(frozen=True, slots=True)
class Column:
    """A header and how to show one row's cell; amounts align right, so their decimals line up."""

    header: str
    cell: Callable[[Row], str]
    align_right: bool = False


def field(header: str, key: str) -> Column:
    """The row's `key` as it is, `-` when absent or null."""
    return Column(header, lambda row: ABSENT if row.get(key) is None else str(row[key]))


def money(header: str, key: str) -> Column:
    """The integer minor units in `key`, in the units of the row's `currency`."""

    def cell(row: Row) -> str:
        amount, currency = row.get(key), row.get("currency")
        if not isinstance(amount, int) or not isinstance(currency, str):
            return ABSENT
        return format_money(amount, currency)

    return Column(header, cell, align_right=True)


def timestamp(header: str, key: str) -> Column:
    """An RFC 3339 time to the minute, in UTC: `2025-06-01 12:34 UTC`."""

    def cell(row: Row) -> str:
        value = row.get(key)
        if not isinstance(value, str):
            return ABSENT
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
        if when.tzinfo is None:  # the services answer in UTC
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

    return Column(header, cell)


ORDER_COLUMNS = (
    field("ID", "id"),
    field("STATUS", "status"),
    money("TOTAL", "total_cents"),
    field("INVOICE", "invoice_id"),
)
INVOICE_COLUMNS = (
    field("ID", "id"),
    field("ORDER", "order_id"),
    field("STATUS", "status"),
    money("AMOUNT", "amount_cents"),
)
SESSION_COLUMNS = (
    field("ID", "id"),
    field("CLIENT", "client_id"),
    field("IP", "ip"),
    timestamp("LAST USED", "last_used_at"),
    Column("CURRENT", lambda row: "*" if row.get("current") else ""),
)


def render(columns: Sequence[Column], rows: Sequence[Row]) -> str:
    """The header line and one line per row, columns two spaces apart, no trailing blanks."""
    lines = [[column.header for column in columns]]
    lines += [[column.cell(row) for column in columns] for row in rows]
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns))]
    return "\n".join(
        "  ".join(
            text.rjust(width) if column.align_right else text.ljust(width)
            for column, text, width in zip(columns, line, widths, strict=True)
        ).rstrip()
        for line in lines
    )
