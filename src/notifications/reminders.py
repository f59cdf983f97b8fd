"""Reminders at the clinic's lead times (``reminder_leads_hours``, e.g. 24 and 2).

A lead is an absolute duration: the reminder is due at ``starts_at - lead`` (a 48 h lead
across a spring-forward night is 49 h of wall-clock time), and the message names the start
in the recipient's own zone (tests/notifications/test_reminders.py checks both at a DST
boundary).

Each reminder is a scheduled job keyed ``appointment:<id>:notify-reminder:<lead>h``
(``carebook.jobs.outbox.schedule``): the lifecycle drops every ``appointment:<id>:`` job in
the transaction that cancels or moves the appointment, ``on_rescheduled`` plans them again
for the new start, and the reminder re-checks the start it was planned for when it runs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from carebook.jobs import outbox
from carebook.tenancy import Tenant, run_in_tenant_tx

log = logging.getLogger(__name__)
ACTOR = "notifications.reminder"


def due_instants(
    starts_at: datetime, leads_hours: tuple[int, ...], now: datetime
) -> list[tuple[int, datetime]]:
    """``(lead, due)`` for every lead whose due instant is still ahead, largest lead first."""
    out = []
    for lead in sorted(set(leads_hours), reverse=True):
        # In UTC: aware arithmetic in a named zone is wall-clock arithmetic in Python.
        due = starts_at.astimezone(UTC) - timedelta(hours=lead)
        if due > now:
            out.append((lead, due))
    return out


def key_prefix(appointment_id: UUID) -> str:
    return f"appointment:{appointment_id}:notify-reminder:"


def job_key(appointment_id: UUID, lead: int) -> str:
    return f"{key_prefix(appointment_id)}{lead}h"


async def plan(tenant: Tenant, appointment_id: UUID, starts_at: datetime) -> list[datetime]:
    """Schedule (or move) this appointment's reminders; returns their due instants."""
    due = due_instants(starts_at, tenant.settings.reminder_leads_hours, datetime.now(UTC))

    async def work(conn: asyncpg.Connection) -> None:
        await outbox.unschedule(conn, key_prefix(appointment_id))
        for lead, at in due:
            args = {
                "appointment_id": str(appointment_id),
                "lead_hours": lead,
                "starts_at": starts_at.isoformat(),
            }
            await outbox.schedule(conn, job_key(appointment_id, lead), ACTOR, args, at)

    await run_in_tenant_tx(tenant, work)
    return [d for _, d in due]


async def cancel(tenant: Tenant, appointment_id: UUID) -> None:
    async def work(conn: asyncpg.Connection) -> None:
        await outbox.unschedule(conn, key_prefix(appointment_id))

    await run_in_tenant_tx(tenant, work)
