"""Prices for people: minor units → ``€50.00``, ``¥5,000``, ``BHD 1.500``.

Babel is not a dependency, so the ISO 4217 minor-unit exponents that differ from 2 and the
symbols of common currencies live here. The output matches the browser's
``Intl.NumberFormat("en", {style: "currency"})`` for those currencies, which the booking
page uses for prices it receives as JSON, so one price reads the same everywhere.
"""

from __future__ import annotations

# ISO 4217 currencies whose minor unit is not 1/100.
_EXPONENTS = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
         "VND", "VUV", "XAF", "XOF", "XPF"),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}  # fmt: skip

# Symbols as the "en" locale writes them; other currencies are written with their code.
_SYMBOLS = {
    "EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩", "ILS": "₪",
    "VND": "₫", "CNY": "CN¥", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "BRL": "R$",
    "MXN": "MX$", "HKD": "HK$", "TWD": "NT$", "PHP": "₱",
    "XAF": "FCFA\u00a0", "XOF": "F\u202fCFA\u00a0",
}  # fmt: skip


def minor_unit_exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has (2 unless ISO 4217 says otherwise)."""
    return _EXPONENTS.get(currency.upper(), 2)


def format_price(amount_minor: int, currency: str) -> str:
    """``5000, "EUR"`` → ``€50.00``; a zero price is written ``Free``."""
    if amount_minor == 0:
        return "Free"
    currency = currency.upper()
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**exponent)
    number = f"{whole:,}" + (f".{fraction:0{exponent}d}" if exponent else "")
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency}\u00a0{number}"
