"""Builders for video tests: a booked appointment on a video calendar, written straight in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from carebook.tenancy import Tenant, tenant_tx
from carebook.tokens import new_token, token_digest
from tests.factories import add_calendar, add_specialist


@dataclass
class VideoAppointment:
    id: UUID
    manage_token: str
    specialist_id: UUID
    calendar_id: UUID


async def video_appointment(
    tenant: Tenant,
    start: datetime,
    *,
    minutes: int = 30,
    video: bool = True,
    status: str = "booked",
    patient_timezone: str = "Europe/Berlin",
    staff_user: UUID | None = None,
) -> VideoAppointment:
    sid = await add_specialist(tenant, name="Dr Vid", staff_user=staff_user)
    cal = await add_calendar(tenant, [sid], duration=minutes, name="Video consultation")
    token = new_token("cbm")
    end = start + timedelta(minutes=minutes)
    async with tenant_tx(tenant) as conn:
        await conn.execute("UPDATE calendars SET video = $2 WHERE id = $1", cal["id"], video)
        pid = await conn.fetchval(
            "INSERT INTO patients (email, name, timezone) VALUES ($1, 'Pat Video', $2) "
            "RETURNING id",
            f"{token[-10:]}@patients.test",
            patient_timezone,
        )
        aid: UUID = await conn.fetchval(
            """INSERT INTO appointments (calendar_id, specialist_id, patient_id, status,
                   starts_at, ends_at, blocking, manage_token_hash, price_minor, currency,
                   duration_minutes)
               VALUES ($1, $2, $3, $4, $5, $6, tstzrange($5, $6), $7, 5000, 'EUR', $8)
               RETURNING id""",
            cal["id"], sid, pid, status, start, end, token_digest(token), minutes,
        )  # fmt: skip
    return VideoAppointment(aid, token, sid, cal["id"])


async def set_clinic_settings(tenant: Tenant, **values: object) -> Tenant:
    """Change a clinic's settings (JSON in the registry) and return the re-read tenant."""
    from tenants.service import find_tenant

    async with tenant_tx(tenant) as conn:
        await conn.execute(
            "UPDATE public.tenants SET settings = coalesce(settings, '{}'::jsonb) || $2::jsonb "
            "WHERE id = $1",
            tenant.id,
            json.dumps(values),
        )
    return await find_tenant(tenant.slug)


async def set_status(tenant: Tenant, appointment_id: UUID, status: str) -> None:
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            "UPDATE appointments SET status = $2 WHERE id = $1", appointment_id, status
        )


async def move(tenant: Tenant, appointment_id: UUID, start: datetime, minutes: int = 30) -> None:
    end = start + timedelta(minutes=minutes)
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            "UPDATE appointments SET starts_at = $2, ends_at = $3, blocking = tstzrange($2, $3) "
            "WHERE id = $1",
            appointment_id, start, end,
        )  # fmt: skip
