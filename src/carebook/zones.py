"""IANA time zones and local dates, validated on input."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from carebook.errors import ValidationFailed, echo

_LOCAL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
FIRST_DATE = date(1, 1, 2)
LAST_DATE = date(9999, 12, 30)
"""Local dates we schedule on: every one has a first instant and a next day, in any zone and
in UTC (Python's dates end at 0001-01-01 and 9999-12-31; offsets reach ±1 day)."""


@cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The ZoneInfo for an IANA name, or a 422 naming ``field``."""
    if name not in _known():
        raise ValidationFailed.field(field, f"{echo(name)} is not an IANA time zone name.",
                                     code="invalid_timezone")  # fmt: skip
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed but unloadable
        raise ValidationFailed.field(field, f"{echo(name)} cannot be loaded.") from exc


def parse_local_date(value: str, field: str) -> date:
    """A ``YYYY-MM-DD`` value (nothing else ISO 8601 allows: no week or ordinal dates) within
    ``FIRST_DATE``…``LAST_DATE``, or a 422 naming ``field``."""
    try:
        if not _LOCAL_DATE.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed.field(
            field, f"{echo(value)} is not a date (YYYY-MM-DD).", code="invalid_date"
        ) from exc
    return date_in_range(day, field)


def date_in_range(day: date, field: str) -> date:
    """``day``, or a 422 ``date_out_of_range`` when outside ``FIRST_DATE``…``LAST_DATE``."""
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValidationFailed.field(
            field, f"Dates run from {FIRST_DATE} to {LAST_DATE}.", code="date_out_of_range"
        )
    return day


def instant_in_range(moment: datetime, field: str) -> datetime:
    """An instant with an offset whose UTC time is within ``FIRST_DATE``…``LAST_DATE``
    (``0001-01-01T00:00+14:00`` is in year 0 in UTC), or a 422 ``date_out_of_range``."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not FIRST_DATE <= utc.date() <= LAST_DATE:
        raise ValidationFailed.field(
            field, f"Instants run from {FIRST_DATE} to {LAST_DATE} (UTC).",
            code="date_out_of_range",
        )  # fmt: skip
    return moment


def first_instant(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local date (fold=0: before a gap, the first of a repeat)."""
    return datetime.combine(day, time(0), tzinfo=zone)
