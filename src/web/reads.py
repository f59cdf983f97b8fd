"""What the public pages read: the catalog, one calendar, one appointment for its patient.

The catalog comes from ``calendars.catalog``. Two small read-only queries live here until
the owning domains expose them: a calendar's horizon and an appointment for its manage link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from bookings import manage_links
from bookings.reads import manage_view
from calendars import catalog
from calendars.schemas import PublicCalendar, PublicService
from carebook.errors import NotFound
from carebook.tenancy import Tenant, tenant_tx


@dataclass(frozen=True)
class PatientAppointment:
    """One appointment as its patient (the holder of the manage token) may see it."""

    id: UUID
    status: str
    starts_at: datetime
    ends_at: datetime
    price_minor: int
    currency: str
    calendar_name: str
    calendar_slug: str
    specialist_name: str
    patient_timezone: str | None
    version: int
    updated_at: datetime
    calendar_id: UUID | None = None


async def public_catalog(tenant: Tenant) -> list[PublicService]:
    """Listed, active calendars grouped by their active service (``calendars.catalog``)."""
    return (await catalog.public_catalog(tenant)).services


async def calendar_by_slug(tenant: Tenant, slug: str) -> PublicCalendar:
    """An active calendar by slug, listed or not; anything else is a 404."""
    async with tenant_tx(tenant) as conn:
        return await catalog.public_calendar_by_slug(conn, slug)


async def appointment_for_patient(
    tenant: Tenant, appointment_id: str, token: str | None
) -> PatientAppointment:
    """The appointment if ``token`` is its manage token; otherwise a 404 that reveals nothing."""
    missing = NotFound(
        "This appointment link is not valid. Check that you copied the whole link.",
        code="appointment_not_found",
    )
    try:
        key = UUID(appointment_id)
    except ValueError:
        raise missing from None
    if not token:
        raise missing
    async with tenant_tx(tenant) as conn:
        row = await manage_view(conn, key)
    if row is None or not manage_links.token_valid(
        tenant, key, bytes(row["manage_token_hash"]), token
    ):
        raise missing
    return PatientAppointment(
        id=row["id"],
        status=row["status"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        price_minor=int(row["price_minor"] or 0),
        currency=row["currency"] or "EUR",
        calendar_name=row["calendar_name"],
        calendar_slug=row["calendar_slug"],
        specialist_name=row["specialist_name"],
        patient_timezone=row["patient_timezone"],
        version=row["version"],
        updated_at=row["updated_at"],
        calendar_id=row["calendar_id"],
    )
