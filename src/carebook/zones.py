"""IANA time zones, validated on input."""

from __future__ import annotations

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
