"""One appointment as staff see it: details, patient, history and the actions open to them."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from bookings.lifecycle import Actor
from bookings.outcomes import appointment_not_found
from bookings.schemas import (
    AppointmentDetail,
    CalendarRef,
    HistoryEntry,
    PatientDetail,
    Price,
    Ref,
)
from carebook.sqlfiles import sql
from carebook.tenancy import Tenant, tenant_tx
from carebook.zones import valid_zone
from tenants.staff import StaffPrincipal

_HISTORY = """
SELECT h.event, h.from_status, h.to_status, h.actor_kind, h.actor_id, h.reason, h.details, h.at,
       u.name AS staff_name
FROM appointment_history h LEFT JOIN staff_users u ON u.id = h.actor_id
WHERE h.appointment_id = $1 ORDER BY h.id
"""


async def appointment_row(
    conn: asyncpg.Connection, staff: StaffPrincipal, appointment_id: UUID
) -> asyncpg.Record:
    """The appointment as ``staff`` may see it, in the caller's transaction (the staff API's
    detail and the staff app's pages): 404 ``appointment_not_found`` for a missing one, a hold
    (not an appointment yet), a released or expired one, and, for a specialist, another's."""
    row = await conn.fetchrow(sql("bookings", "appointment_detail.sql"), appointment_id,
                              Actor.for_staff(staff).kind, staff.appointment_scope)  # fmt: skip
    if row is None:
        raise appointment_not_found()
    return row


async def appointment_history(
    conn: asyncpg.Connection, appointment_id: UUID
) -> list[asyncpg.Record]:
    """The appointment's history, oldest first, in the caller's transaction (the staff API's
    detail and the staff app's panel); ``staff_name`` names the staff member who acted."""
    rows: list[asyncpg.Record] = await conn.fetch(_HISTORY, appointment_id)
    return rows


async def appointment_detail(
    tenant: Tenant, staff: StaffPrincipal, appointment_id: UUID, tz: str | None = None
) -> AppointmentDetail:
    """The appointment with its history; a specialist sees only their own (404 otherwise)."""
    zone = valid_zone(tz or tenant.timezone, "tz")
    async with tenant_tx(tenant) as conn:
        row = await appointment_row(conn, staff, appointment_id)
        history = await appointment_history(conn, appointment_id)
    return _detail(row, history, zone)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _detail(
    row: asyncpg.Record, history: list[asyncpg.Record], zone: ZoneInfo
) -> AppointmentDetail:
    patient = None
    if row["patient_id"] is not None:
        patient = PatientDetail(row["patient_id"], row["patient_name"], row["patient_email"],
                                row["patient_phone"], row["patient_timezone"])  # fmt: skip
    price = None
    if row["price_minor"] is not None:
        price = Price(row["price_minor"], row["currency"].strip())
    return AppointmentDetail(
        id=row["id"],
        status=row["status"],
        version=row["version"],
        start=row["starts_at"].astimezone(zone),
        end=row["ends_at"].astimezone(zone),
        specialist=Ref(row["specialist_id"], row["specialist_name"]),
        calendar=CalendarRef(row["calendar_id"], row["calendar_name"], row["calendar_slug"]),
        patient=patient,
        price=price,
        notes=row["notes"],
        answers=_json(row["answers"]),
        allowed_actions=[*row["allowed_actions"], *_reschedulable(row["status"])],
        history=[
            HistoryEntry(
                h["event"],
                h["from_status"],
                h["to_status"],
                h["actor_kind"],
                h["actor_id"],
                h["reason"],
                _json(h["details"]) or {},
                h["at"].astimezone(zone),
            )
            for h in history
        ],
    )


def _reschedulable(status: str) -> list[str]:
    return ["reschedule"] if status in ("booked", "upcoming", "confirmed") else []
