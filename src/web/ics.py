"""An appointment as an RFC 5545 calendar file that common calendar apps import."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from uuid import UUID

from icalendar import Calendar, Event, vCalAddress

from carebook.tenancy import Tenant
from web.reads import PatientAppointment

PRODID = "-//Carebook//Booking//EN"
_CANCELLED = frozenset({"cancelled", "released", "expired", "no_show"})


@dataclass(frozen=True)
class IcsEvent:
    """What one VEVENT says; ``sequence`` is the appointment's version (it only grows)."""

    appointment_id: UUID
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    location: str
    url: str
    cancelled: bool
    sequence: int
    last_modified: datetime
    organizer_email: str | None = None
    organizer_name: str | None = None


def event_uid(appointment_id: UUID, base_url: str) -> str:
    """Stable for the appointment's whole life: reschedules and cancels update one event."""
    host = urlsplit(base_url).hostname or "carebook"
    return f"{appointment_id}@{host}"


def build_ics(ev: IcsEvent, base_url: str, method: str = "PUBLISH") -> bytes:
    """One VEVENT in UTC (no VTIMEZONE needed). ``method`` CANCEL marks it cancelled (RFC 5546
    requires an ORGANIZER then, so one is always given: the clinic's address)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    event = Event()
    event.add("uid", event_uid(ev.appointment_id, base_url))
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", ev.starts_at.astimezone(UTC))
    event.add("dtend", ev.ends_at.astimezone(UTC))
    event.add("summary", ev.summary)
    event.add("description", ev.description)
    event.add("location", ev.location)
    event.add("url", ev.url)
    cancelled = ev.cancelled or method == "CANCEL"
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("sequence", ev.sequence)
    event.add("last-modified", ev.last_modified.astimezone(UTC))
    if ev.organizer_email or method != "PUBLISH":
        host = urlsplit(base_url).hostname or "carebook.invalid"
        organizer = vCalAddress(f"mailto:{ev.organizer_email or 'no-reply@' + host}")
        if ev.organizer_name:
            organizer.params["cn"] = ev.organizer_name
        event.add("organizer", organizer)
    cal.add_component(event)
    return bytes(cal.to_ical())


def appointment_ics(
    tenant: Tenant, appt: PatientAppointment, manage_url: str, base_url: str
) -> bytes:
    """The manage page's download: one VEVENT with a stable UID and the manage link."""
    return build_ics(
        IcsEvent(
            appointment_id=appt.id,
            starts_at=appt.starts_at,
            ends_at=appt.ends_at,
            summary=f"{appt.calendar_name} – {tenant.name}",
            description=f"{appt.calendar_name} with {appt.specialist_name} at {tenant.name}.\n"
            f"View or manage your appointment: {manage_url}",
            location=", ".join(p for p in (tenant.name, tenant.settings.address) if p),
            url=manage_url,
            cancelled=appt.status in _CANCELLED,
            sequence=appt.version,
            last_modified=appt.updated_at,
        ),
        base_url,
    )
