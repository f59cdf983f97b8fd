"""An appointment as an RFC 5545 calendar file that common calendar apps import."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from icalendar import Calendar, Event

from carebook.tenancy import Tenant
from web.reads import PatientAppointment

PRODID = "-//Carebook//Booking//EN"
_CANCELLED = frozenset({"cancelled", "released", "expired", "no_show"})


def appointment_ics(
    tenant: Tenant, appt: PatientAppointment, manage_url: str, base_url: str
) -> bytes:
    """One VEVENT in UTC (no VTIMEZONE needed), with a stable UID and the manage link."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    event = Event()
    host = urlsplit(base_url).hostname or "carebook"
    # The UID must not change between downloads so re-importing updates the same event.
    event.add("uid", f"{appt.id}@{host}")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", appt.starts_at.astimezone(UTC))
    event.add("dtend", appt.ends_at.astimezone(UTC))
    event.add("summary", f"{appt.calendar_name} – {tenant.name}")
    event.add(
        "description",
        f"{appt.calendar_name} with {appt.specialist_name} at {tenant.name}.\n"
        f"View or manage your appointment: {manage_url}",
    )
    event.add("location", tenant.name)
    event.add("url", manage_url)
    event.add("status", "CANCELLED" if appt.status in _CANCELLED else "CONFIRMED")
    event.add("sequence", appt.version)
    event.add("last-modified", appt.updated_at.astimezone(UTC))
    cal.add_component(event)
    return bytes(cal.to_ical())
