"""Builders for lifecycle tests: booked appointments, moved into any state, and staff users."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from carebook.tenancy import Tenant, tenant_tx
from tenants import staff as staff_users
from tests.bookings.support import Setup, booking_body, idem, place_hold, slot
from tests.conftest import Clinic

# The transition table of appointments spec §1 (what staff may do from each state).
STAFF_ALLOWED: dict[str, dict[str, str]] = {
    "booked": {"cancel": "cancelled"},
    "upcoming": {"confirm": "confirmed", "cancel": "cancelled", "no_show": "no_show"},
    "confirmed": {"start": "in_progress", "cancel": "cancelled", "no_show": "no_show"},
    "in_progress": {"complete": "done"},
    "done": {},
    "cancelled": {},
    "no_show": {},
}
ACTIONS = ("confirm", "start", "complete", "cancel", "no_show")


async def book(
    client: httpx.AsyncClient,
    clinic: Clinic,
    setup: Setup,
    start: datetime | None = None,
    email: str = "pat@example.test",
) -> dict[str, Any]:
    """A booked appointment via the public API: the 201 body plus ``manage_token``."""
    hold = await place_hold(client, clinic.public, setup, start or slot(clinic.tenant, days=3))
    r = await client.post(f"{clinic.public}/bookings", json=booking_body(hold, email=email),
                          headers=idem())  # fmt: skip
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    body["manage_token"] = body["manage_url"].split("token=", 1)[1]
    return body


async def detail(client: httpx.AsyncClient, clinic: Clinic, appointment_id: Any) -> dict[str, Any]:
    r = await client.get(f"{clinic.api}/appointments/{appointment_id}", headers=clinic.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def act(
    client: httpx.AsyncClient,
    clinic: Clinic,
    appointment_id: Any,
    action: str,
    version: int | None = None,
    reason: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    if version is None:
        version = (await detail(client, clinic, appointment_id))["version"]
    body: dict[str, Any] = {"action": action, "version": version}
    if reason is not None:
        body["reason"] = reason
    elif action == "cancel":
        body["reason"] = "Patient called"
    return await client.post(f"{clinic.api}/appointments/{appointment_id}/transitions",
                             json=body, headers=headers or clinic.headers)  # fmt: skip


async def system_upcoming(tenant: Tenant, appointment_id: Any) -> None:
    """What the scheduler's job does when the reminder lead begins."""
    async with tenant_tx(tenant) as conn:
        await conn.fetchrow(
            "SELECT * FROM transition_appointment($1, 'upcoming', NULL, 'system', NULL, NULL)",
            UUID(str(appointment_id)),
        )


async def shift_start(tenant: Tenant, appointment_id: Any, delta: timedelta) -> None:
    """Move an appointment in time without the lifecycle (tests of time guards only)."""
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            """UPDATE appointments SET starts_at = starts_at + $2, ends_at = ends_at + $2,
                   blocking = tstzrange(lower(blocking) + $2, upper(blocking) + $2)
               WHERE id = $1""",
            UUID(str(appointment_id)), delta,
        )  # fmt: skip


async def move_to(
    client: httpx.AsyncClient, clinic: Clinic, appointment_id: Any, state: str
) -> None:
    """Walk a booked appointment along the lifecycle to ``state`` (its start an hour ago when
    the state needs the appointment to have begun)."""
    path = {
        "booked": [],
        "upcoming": ["upcoming"],
        "confirmed": ["upcoming", "confirm"],
        "in_progress": ["upcoming", "confirm", "start"],
        "done": ["upcoming", "confirm", "start", "complete"],
        "cancelled": ["cancel"],
        "no_show": ["upcoming", "no_show"],
    }[state]
    for step in path:
        if step == "upcoming":
            await system_upcoming(clinic.tenant, appointment_id)
            continue
        if step in ("start", "no_show"):
            await begin(clinic, appointment_id)
        r = await act(client, clinic, appointment_id, step)
        assert r.status_code == 200, r.text


async def begin(clinic: Clinic, appointment_id: Any) -> None:
    async with tenant_tx(clinic.tenant) as conn:
        start = await conn.fetchval(
            "SELECT starts_at FROM appointments WHERE id = $1", UUID(str(appointment_id))
        )
    target = datetime.now(start.tzinfo) - timedelta(hours=1)
    if start > target:
        await shift_start(clinic.tenant, appointment_id, target - start)


async def staff_member(clinic: Clinic, role: str, email: str) -> tuple[UUID, dict[str, str]]:
    """A staff user of ``role`` with an API token; returns (id, auth headers)."""
    async with tenant_tx(clinic.tenant) as conn:
        staff_id = await staff_users.create_staff_user(conn, email=email, name=email, role=role)
        token = await staff_users.issue_token(conn, staff_id, "test")
    return staff_id, {"Authorization": f"Bearer {token}"}


async def outbox_jobs(tenant: Tenant, appointment_id: Any) -> list[dict[str, Any]]:
    """The jobs waiting in the outbox for one appointment (no relay runs in these tests)."""
    async with tenant_tx(tenant) as conn:
        rows = await conn.fetch(
            """SELECT actor, args FROM public.job_outbox
               WHERE schema_name = $1 AND args ->> 'appointment_id' = $2 ORDER BY id""",
            tenant.schema, str(appointment_id),
        )  # fmt: skip
    return [{"actor": r["actor"], "args": json.loads(r["args"])} for r in rows]
