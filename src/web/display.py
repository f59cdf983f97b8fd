"""Dates, times and labels as the public pages write them (English, 24-hour clock).

Labels are marked ``N_`` for the catalogs; pages translate them with ``carebook.i18n``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carebook.i18n import N_
from forms.schemas import FieldSpec, InstanceOut

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


def answer_text(field: FieldSpec, value: Any) -> str:
    """An answer as text for the read-only and printable views."""
    if value is None:
        return "—"
    if field.type == "yes_no":
        return "Yes" if value else "No"
    if field.type == "multiple_choice":
        return ", ".join(value)
    if field.type == "consent":
        signed = datetime.fromisoformat(value["signed_at"]).astimezone(UTC)
        return f"Agreed. Signed by {value['name']} on {signed:%d %B %Y, %H:%M} UTC"
    if field.type == "date":
        return f"{datetime.fromisoformat(value):%d %B %Y}"
    return str(value)


def form_view(form: InstanceOut, when: str = "") -> dict[str, Any]:
    """A filled (or pending) form for the staff pages: name, phase, state and answers."""
    return {
        "name": form.name,
        "phase": "Intake" if form.phase == "intake" else "After the appointment",
        "status": "Submitted" if form.status == "submitted" else "Not submitted yet",
        "submitted": form.status == "submitted",
        "appointment_id": form.appointment_id,
        "when": when,
        "answers": [(x.label, answer_text(x, form.answers.get(x.key))) for x in form.fields],
    }
