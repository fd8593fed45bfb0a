"""Amounts in the currency's units: Tessera counts integer minor units (`total_cents`), a person
reads euros, yen or dinars."""

from __future__ import annotations

import pytest
from tessera_mobile.money import format_money, minor_unit_exponent


@pytest.mark.parametrize(
    ("minor_units", "shown"),
    [(4499, "44.99 EUR"), (2500, "25.00 EUR"), (5, "0.05 EUR"), (0, "0.00 EUR")],
)
def test_an_amount_in_cents_is_shown_in_euros_with_two_decimals(
    minor_units: int, shown: str
) -> None:
    assert format_money(minor_units, "EUR") == shown


def test_a_currency_without_minor_units_is_shown_in_whole_units() -> None:
    assert format_money(1250, "JPY") == "1250 JPY"
    assert format_money(50000, "KRW") == "50000 KRW"


def test_a_currency_of_thousandths_is_shown_with_three_decimals() -> None:
    assert format_money(12345, "KWD") == "12.345 KWD"
    assert format_money(7, "BHD") == "0.007 BHD"


@pytest.mark.parametrize(
    ("minor_units", "currency", "shown"),
    [(-2500, "EUR", "-25.00 EUR"), (-5, "USD", "-0.05 USD"), (-1250, "JPY", "-1250 JPY")],
)
def test_a_negative_amount_has_its_sign_before_the_whole_amount(
    minor_units: int, currency: str, shown: str
) -> None:
    assert format_money(minor_units, currency) == shown


def test_a_large_amount_is_exact_to_the_cent() -> None:
    assert format_money(10**18 + 1, "USD") == "10000000000000000.01 USD"


def test_a_code_iso_4217_does_not_list_counts_cents_as_the_api_does() -> None:
    assert format_money(4499, "RAO") == "44.99 RAO"


def test_the_exponent_is_iso_4217s_whatever_the_case_of_the_code() -> None:
    assert [minor_unit_exponent(code) for code in ("EUR", "jpy", "TND", "CLF")] == [2, 0, 3, 4]
