"""Amounts as people read them: Tessera's integer minor units shown in the currency's units.

Orders and billing keep money as an integer count of the currency's minor unit (the API calls
it `..._cents`) plus an ISO 4217 code, and accept any three-letter code. How many minor units
make one unit is the currency's exponent in ISO 4217: 2 for most (EUR, USD, GBP), 0 for a few
(JPY, KRW), 3 for some (KWD, BHD). One format for every currency, the code after the amount
(a symbol would be ambiguous: `$` is the sign of a dozen currencies):

    >>> format_money(4499, "EUR")
    '44.99 EUR'
    >>> format_money(1250, "JPY")
    '1250 JPY'
    >>> format_money(-5, "USD")
    '-0.05 USD'
"""

from __future__ import annotations

DEFAULT_EXPONENT = 2
"""ISO 4217's exponent for every currency not in `MINOR_UNIT_EXPONENTS`; a code ISO 4217 does not
list (the platform checks only its shape) is shown with it too, as the API counts "cents"."""

_CODES_BY_EXPONENT = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
    # precious metals, the SDR, test and "no currency" codes: ISO 4217 gives them no minor unit
    " XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX",
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
}
MINOR_UNIT_EXPONENTS: dict[str, int] = {
    code: exponent for exponent, codes in _CODES_BY_EXPONENT.items() for code in codes.split()
}
"""The currencies of ISO 4217 (list one) whose exponent is not 2."""


def minor_unit_exponent(currency: str) -> int:
    """How many decimals the currency's amounts have: `minor_unit_exponent("JPY") == 0`."""
    return MINOR_UNIT_EXPONENTS.get(currency.upper(), DEFAULT_EXPONENT)


def format_money(minor_units: int, currency: str) -> str:
    """`minor_units` of `currency` in its units, with its code: exact (integer arithmetic, never
    a float), a minus sign before a negative amount (none today: a refund changes an invoice's
    status, not its amount), no grouping of thousands (it reads the same in every locale and
    pastes into a command as a number)."""
    exponent = minor_unit_exponent(currency)
    whole, fraction = divmod(abs(minor_units), 10**exponent)
    amount = f"{whole}.{fraction:0{exponent}d}" if exponent else str(whole)
    sign = "-" if minor_units < 0 else ""
    return f"{sign}{amount} {currency}"
