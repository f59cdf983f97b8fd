"""Patient input quality: e-mail addresses and phone numbers, checked and normalized.

- E-mail: syntax only (``email-validator``; no DNS or deliverability lookups). The ``.test``
  top-level domain reserved for testing (RFC 2606) is accepted, other special-use names
  (``.invalid``, ``.local``, ``localhost``…) are not. The address is kept as typed (trimmed):
  patients are matched case-insensitively already, and people recognise their own spelling.
- Phone: parsed with ``phonenumbers`` in the clinic's region (a national number like
  ``030 1234567`` needs it) and stored as E.164 (``+49301234567``); a number that cannot be
  a real number of its country is a 422.
- A clinic's region: its ``country`` setting, else the country of its time zone.
"""

from __future__ import annotations

import importlib.resources as res
from functools import cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from carebook.errors import ValidationFailed

MAX_EMAIL = 254


def normalize_email(value: str, field: str = "email") -> str:
    raw = (value or "").strip()
    if len(raw) > MAX_EMAIL:
        raise ValidationFailed.field(
            field, f"At most {MAX_EMAIL} characters.", code="invalid_email"
        )
    try:
        validate_email(raw, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValidationFailed.field(field, str(exc), code="invalid_email") from None
    return raw


@cache
def _zone_countries() -> dict[str, str]:
    """IANA zone → ISO country, from the tz database's zone.tab."""
    out: dict[str, str] = {}
    try:
        text = res.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        return out
    for line in text.splitlines():
        parts = line.split("\t")
        if not line.startswith("#") and len(parts) >= 3:
            out[parts[2]] = parts[0]
    return out


def region_for(country: str | None, timezone: str) -> str | None:
    """The clinic's phone region: its ``country`` setting, else its time zone's country."""
    if country and len(country) == 2:
        return country.upper()
    return _zone_countries().get(timezone)


def normalize_phone(value: str | None, region: str | None, field: str = "phone") -> str | None:
    raw = (value or "").strip()
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValidationFailed.field(
            field, "Not a phone number. Include the country code, e.g. +49 30 1234567.",
            code="invalid_phone",
        ) from None  # fmt: skip
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed.field(field, "This phone number is not valid.", code="invalid_phone")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
