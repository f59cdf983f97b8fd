"""The staff view of one local day's appointments.

Who sees what (``StaffPrincipal.appointment_scope``, the staff pages' rule): admins and
receptionists see every specialist's day; a staff member with the ``specialist`` role sees
only the appointments of the specialist linked to their account (``specialists.staff_user``),
because the list carries patient contact data. The filter is in the SQL.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from bookings.schemas import AppointmentOut, CalendarRef, DayOut, PatientOut, Price, Ref
from carebook.errors import NotFound, ValidationFailed
from carebook.sqlfiles import sql
from carebook.tenancy import Tenant, tenant_tx
from carebook.zones import first_instant, parse_local_date, valid_zone
from tenants.staff import StaffPrincipal

BOOKED_STATUSES = ("booked", "upcoming", "confirmed", "in_progress", "done", "cancelled",
                   "no_show")  # fmt: skip
ALL_STATUSES = ("held", *BOOKED_STATUSES)


def parse_day(raw: str | None, zone: ZoneInfo) -> date:
    """``YYYY-MM-DD``, or today in ``zone`` when absent."""
    if raw is None:
        return datetime.now(zone).date()
    return parse_local_date(raw, "date")


def parse_statuses(raw: str | None) -> list[str]:
    """Comma-separated statuses; default: everything past the hold."""
    if raw is None:
        return list(BOOKED_STATUSES)
    wanted = [s.strip() for s in raw.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in ALL_STATUSES]
    if unknown or not wanted:
        raise ValidationFailed.field(
            "status", f"Statuses are a comma-separated subset of {', '.join(ALL_STATUSES)}.",
            code="invalid_status",
        )  # fmt: skip
    return wanted


async def day_appointments(
    tenant: Tenant,
    staff: StaffPrincipal,
    day: str | None,
    specialist_id: UUID | None,
    status: str | None,
    tz: str | None,
) -> DayOut:
    """The appointments starting on local date ``day`` of ``tz`` (default: clinic zone)."""
    zone_name = tz or tenant.timezone
    zone = valid_zone(zone_name, "tz")
    local = parse_day(day, zone)
    statuses = parse_statuses(status)
    lo = first_instant(local, zone)
    hi = first_instant(local + timedelta(days=1), zone)
    async with tenant_tx(tenant) as conn:
        if specialist_id is not None and not await conn.fetchval(
            "SELECT 1 FROM specialists WHERE id = $1", specialist_id
        ):
            raise NotFound("There is no such specialist.", code="specialist_not_found")
        rows = await conn.fetch(sql("bookings", "day_appointments.sql"), lo, hi, specialist_id,
                                statuses, staff.appointment_scope)  # fmt: skip
    return DayOut(local.isoformat(), zone_name, [_appointment(r, zone) for r in rows])


def _appointment(r: asyncpg.Record, zone: ZoneInfo) -> AppointmentOut:
    patient = None
    if r["patient_id"] is not None:
        patient = PatientOut(r["patient_id"], r["patient_name"], r["patient_email"],
                             r["patient_phone"])  # fmt: skip
    price = Price(r["price_minor"], r["currency"].strip()) if r["price_minor"] is not None else None
    expires = r["hold_expires_at"].astimezone(zone) if r["status"] == "held" else None
    return AppointmentOut(
        id=r["id"],
        status=r["status"],
        start=r["starts_at"].astimezone(zone),
        end=r["ends_at"].astimezone(zone),
        specialist=Ref(r["specialist_id"], r["specialist_name"]),
        calendar=CalendarRef(r["calendar_id"], r["calendar_name"], r["calendar_slug"]),
        patient=patient,
        price=price,
        hold_expires_at=expires,
    )
