"""Reminders at the clinic's lead times (``reminder_leads_hours``, e.g. 24 and 2).

A lead is an absolute duration: the reminder is due at ``starts_at - lead`` (a 48 h lead
across a spring-forward night is 49 h of wall-clock time), and the message names the start
in the recipient's own zone (tests/notifications/test_reminders.py checks both at a DST
boundary).

Each reminder is a scheduled job keyed ``notify:reminder:<appointment>:<lead>h``: planning
again (after a reschedule) replaces the due time, cancelling removes them, and the reminder
re-checks the start it was planned for when it runs (``service.on_reminder``).
"""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

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


def job_key(appointment_id: UUID, lead: int) -> str:
    return f"notify:reminder:{appointment_id}:{lead}h"


def _outbox() -> Any | None:
    """The lifecycle's job outbox (``carebook.jobs.outbox``), once it exists."""
    try:
        return importlib.import_module("carebook.jobs.outbox")
    except ModuleNotFoundError:
        return None


async def plan(tenant: Tenant, appointment_id: UUID, starts_at: datetime) -> list[datetime]:
    """Schedule (or move) this appointment's reminders; returns their due instants."""
    due = due_instants(starts_at, tenant.settings.reminder_leads_hours, datetime.now(UTC))
    outbox = _outbox()
    if outbox is None:
        log.warning("no job scheduler yet: reminders for %s not planned", appointment_id)
        return [d for _, d in due]

    async def work(conn: Any) -> None:
        await outbox.unschedule(conn, f"notify:reminder:{appointment_id}:")
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
    outbox = _outbox()
    if outbox is None:
        return

    async def work(conn: Any) -> None:
        await outbox.unschedule(conn, f"notify:reminder:{appointment_id}:")

    await run_in_tenant_tx(tenant, work)
