"""Dates, times and labels as the public pages write them (English, 24-hour clock).

Labels are marked ``N_`` for the catalogs; pages translate them with ``carebook.i18n``."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carebook.i18n import N_

KIND_LABELS = {"promotional": N_("Promotion"), "campaign": N_("Campaign")}
STATUS_LABELS = {
    "held": N_("Not yet confirmed"),
    "booked": N_("Booked"),
    "upcoming": N_("Upcoming"),
    "confirmed": N_("Confirmed"),
    "in_progress": N_("In progress"),
    "done": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "no_show": N_("Missed"),
    "released": N_("Released"),
    "expired": N_("Expired"),
}


def zone_or(name: str | None, fallback: str) -> ZoneInfo:
    """The zone called ``name`` if it loads, else ``fallback`` (stored names were validated)."""
    try:
        return ZoneInfo(name or fallback)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def date_text(moment: datetime, zone: ZoneInfo) -> str:
    """``Thursday, 26 November 2026`` in ``zone``."""
    local = moment.astimezone(zone)
    return f"{local:%A}, {local.day} {local:%B %Y}"


def time_range_text(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """``09:00–09:30`` in ``zone``."""
    return f"{start.astimezone(zone):%H:%M}–{end.astimezone(zone):%H:%M}"


def duration_text(minutes: int) -> str:
    """``30 min``, ``1 h``, ``1 h 30 min``."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")
