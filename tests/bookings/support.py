"""Shared builders for the bookings tests: a bookable calendar and slot instants."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from carebook.tenancy import Tenant, tenant_tx
from tests.factories import add_calendar, add_specialist


def slot(tenant: Tenant, days: int = 1, hour: int = 10, minute: int = 0) -> datetime:
    """A local wall-clock instant ``days`` from today in the clinic's zone."""
    zone = ZoneInfo(tenant.timezone)
    day = datetime.now(zone).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), zone)


async def hold_and_book_sql(conn: asyncpg.Connection, calendar_id: UUID, start: datetime) -> UUID:
    """Hold ``start`` and book it with the SQL use cases themselves (``hold_slot()`` for 10
    minutes, then ``book_hold()`` for a new patient), on ``conn``'s tenant transaction; the
    appointment's id. Raises what they raise (asyncpg.RaiseError with the outcome)."""
    hold = await conn.fetchrow(
        "SELECT * FROM hold_slot($1, $2, NULL, NULL, $3, 10, 'Europe/Berlin')",
        calendar_id, start, os.urandom(32),
    )  # fmt: skip
    token_hash = await conn.fetchval(
        "SELECT hold_token_hash FROM appointments WHERE id = $1", hold["id"]
    )
    await conn.fetchrow(
        "SELECT * FROM book_hold($1, $2, $3, $4, $5, 'Pat', NULL, 'UTC', NULL, NULL, $6, $7,"
        " 'patient', NULL)",
        uuid.uuid4().hex, os.urandom(32), hold["id"], token_hash,
        f"{uuid.uuid4().hex[:6]}@p.test", os.urandom(32), os.urandom(32),
    )  # fmt: skip
    appointment: UUID = hold["id"]
    return appointment


def iso(instant: datetime) -> str:
    return instant.isoformat()


@dataclass
class Setup:
    tenant: Tenant
    specialist_id: UUID
    calendar_id: UUID
    calendar: dict[str, Any]


async def bookable(tenant: Tenant, *, buffer: int = 0, duration: int = 30, **cal: Any) -> Setup:
    """One specialist (09:00-17:00 daily) on one calendar."""
    sid = await add_specialist(tenant, buffer=buffer)
    calendar = await add_calendar(tenant, [sid], duration=duration, **cal)
    return Setup(tenant, sid, calendar["id"], calendar)


def hold_body(setup: Setup, start: datetime, **extra: Any) -> dict[str, Any]:
    return {"calendar_id": str(setup.calendar_id), "start": iso(start), **extra}


def booking_body(
    hold: dict[str, Any], email: str = "pat@example.test", **extra: Any
) -> dict[str, Any]:
    return {
        "hold_id": hold["hold_id"],
        "token": hold["token"],
        "patient": {"name": "Pat Example", "email": email, "timezone": "Europe/Berlin"},
        **extra,
    }


def idem() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def place_hold(
    client: httpx.AsyncClient, public: str, setup: Setup, start: datetime, **extra: Any
) -> dict[str, Any]:
    r = await client.post(f"{public}/holds", json=hold_body(setup, start, **extra))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def fetch_appointment(tenant: Tenant, appointment_id: str | UUID) -> dict[str, Any]:
    async with tenant_tx(tenant) as conn:
        row = await conn.fetchrow(
            "SELECT * FROM appointments WHERE id = $1", UUID(str(appointment_id))
        )
    assert row is not None
    return dict(row)


async def backdate_hold(tenant: Tenant, hold_id: str) -> None:
    """Make a hold lapse now, without waiting (and its sweeper hint with it)."""
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            "UPDATE appointments SET hold_expires_at = now() - interval '1 second' WHERE id = $1",
            UUID(hold_id),
        )
        await conn.execute(
            "UPDATE public.hold_expiries SET expires_at = now() - interval '1 second' "
            "WHERE appointment_id = $1",
            UUID(hold_id),
        )


async def events_of(tenant: Tenant, type_: str) -> list[dict[str, Any]]:
    async with tenant_tx(tenant) as conn:
        rows = await conn.fetch(
            "SELECT id, type, data FROM events WHERE type = $1 ORDER BY id", type_
        )
    import json

    return [json.loads(r["data"]) for r in rows]


def today_plus(tenant: Tenant, days: int) -> date:
    return datetime.now(ZoneInfo(tenant.timezone)).date() + timedelta(days=days)
