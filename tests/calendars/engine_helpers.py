"""Helpers for engine tests: call the SQL function and write appointments directly."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from carebook.tenancy import Tenant, tenant_tx


async def slots(
    tenant: Tenant,
    calendar_id: UUID,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    specialist: UUID | None = None,
    ignore_blocking: bool = False,
) -> list[tuple[datetime, datetime, UUID]]:
    """Raw engine rows (slot_start, slot_end, specialist_id); ``now`` defaults to a day before."""
    now = now or start - timedelta(days=1)
    async with tenant_tx(tenant) as conn:
        rows = await conn.fetch(
            "SELECT * FROM available_slots($1, $2, $3, $4, $5, $6)",
            calendar_id,
            start,
            end,
            now,
            specialist,
            ignore_blocking,
        )
    return [(r["slot_start"], r["slot_end"], r["specialist_id"]) for r in rows]


def local_day(day: str, zone: str) -> tuple[datetime, datetime]:
    """The instants bounding a local date in ``zone``."""
    z = ZoneInfo(zone)
    d = datetime.fromisoformat(day).replace(tzinfo=z)
    return d, (d.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=z)


def hhmm(rows: list[Any], zone: str) -> list[str]:
    """Slot starts as local HH:MM strings (sorted, distinct)."""
    z = ZoneInfo(zone)
    return sorted({r[0].astimezone(z).strftime("%H:%M") for r in rows})


async def add_appointment(
    tenant: Tenant,
    calendar_id: UUID,
    specialist_id: UUID,
    start: datetime,
    minutes: int,
    *,
    status: str = "booked",
    buffer: int = 0,
    hold_expires_at: datetime | None = None,
) -> UUID:
    """Insert an appointment row with its blocking range [start, end + buffer)."""
    end = start + timedelta(minutes=minutes)
    async with tenant_tx(tenant) as conn:
        aid: UUID = await conn.fetchval(
            """INSERT INTO appointments (calendar_id, specialist_id, status, starts_at, ends_at,
                   blocking, hold_expires_at, hold_token_hash)
               VALUES ($1, $2, $3, $4, $5, tstzrange($4, $6), $7, $8) RETURNING id""",
            calendar_id,
            specialist_id,
            status,
            start,
            end,
            end + timedelta(minutes=buffer),
            hold_expires_at if status == "held" else None,
            os.urandom(32) if status == "held" else None,
        )
    return aid
