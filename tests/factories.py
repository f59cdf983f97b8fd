"""Test data builders: specialists, schedules and calendars written straight into a clinic.

Every-day 09:00–17:00 is the default weekly schedule; pass ``weekly`` to change it
(``{isodow: [("09:00", "12:00"), ...]}``). Notice defaults to 0 so slots soon after
"now" are bookable in tests.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from carebook.tenancy import Tenant, tenant_tx

NINE_TO_FIVE = {d: [("09:00", "17:00")] for d in range(1, 8)}


async def add_specialist(
    tenant: Tenant,
    *,
    name: str = "Dr Test",
    timezone: str | None = None,
    buffer: int = 0,
    weekly: dict[int, list[tuple[str, str]]] | None = None,
    staff_user: UUID | None = None,
) -> UUID:
    weekly = NINE_TO_FIVE if weekly is None else weekly
    async with tenant_tx(tenant) as conn:
        sid: UUID = await conn.fetchval(
            "INSERT INTO specialists (name, email, timezone, buffer_minutes, staff_user) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING id",
            name,
            f"{uuid.uuid4().hex[:8]}@specialists.test",
            timezone or tenant.timezone,
            buffer,
            staff_user,
        )
        for dow, intervals in weekly.items():
            for start, end in intervals:
                await conn.execute(
                    "INSERT INTO weekly_intervals (specialist_id, isodow, starts, ends) "
                    "VALUES ($1, $2, $3::text::time, $4::text::time)",
                    sid,
                    dow,
                    start,
                    end,
                )
    return sid


async def add_calendar(
    tenant: Tenant,
    specialists: list[UUID],
    *,
    duration: int = 30,
    interval: int | None = None,
    notice: int = 0,
    horizon: int = 60,
    kind: str = "standard",
    price_minor: int = 5000,
    currency: str = "EUR",
    slug: str | None = None,
    name: str = "Consultation",
    listed: bool = True,
    active: bool = True,
    active_from: datetime | None = None,
    active_until: datetime | None = None,
    special_hours: dict[int, list[tuple[str, str]]] | None = None,
    service_id: UUID | None = None,
) -> dict[str, Any]:
    async with tenant_tx(tenant) as conn:
        if service_id is None:
            service_id = await conn.fetchval(
                "INSERT INTO services (name, default_duration_minutes) "
                "VALUES ($1, $2) RETURNING id",
                f"{name} service",
                duration,
            )
        row = await conn.fetchrow(
            """INSERT INTO calendars (service_id, name, slug, kind, price_minor, currency,
                   duration_minutes, slot_interval_minutes, min_notice_minutes, horizon_days,
                   listed, active, active_from, active_until)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
               RETURNING id, slug, service_id""",
            service_id,
            name,
            slug or f"cal-{uuid.uuid4().hex[:8]}",
            kind,
            price_minor,
            currency,
            duration,
            interval,
            notice,
            horizon,
            listed,
            active,
            active_from,
            active_until,
        )
        for sid in specialists:
            await conn.execute(
                "INSERT INTO calendar_specialists (calendar_id, specialist_id) VALUES ($1, $2)",
                row["id"],
                sid,
            )
        for dow, intervals in (special_hours or {}).items():
            for start, end in intervals:
                await conn.execute(
                    "INSERT INTO calendar_special_hours (calendar_id, isodow, starts, ends) "
                    "VALUES ($1, $2, $3::text::time, $4::text::time)",
                    row["id"],
                    dow,
                    start,
                    end,
                )
    return dict(row)
