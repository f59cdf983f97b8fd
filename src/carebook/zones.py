"""IANA time zones and local dates, validated on input."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from carebook.errors import ValidationFailed


@cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The ZoneInfo for an IANA name, or a 422 naming ``field``."""
    if name not in _known():
        raise ValidationFailed.field(field, f"'{name}' is not an IANA time zone name.",
                                     code="invalid_timezone")  # fmt: skip
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed but unloadable
        raise ValidationFailed.field(field, f"'{name}' cannot be loaded.") from exc


def parse_local_date(value: str, field: str) -> date:
    """A ``YYYY-MM-DD`` value, or a 422 naming ``field``."""
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed.field(
            field, f"'{value}' is not a date (YYYY-MM-DD).", code="invalid_date"
        ) from exc


def first_instant(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local date (fold=0: before a gap, the first of a repeat)."""
    return datetime.combine(day, time(0), tzinfo=zone)
