"""Moving an appointment through its lifecycle (appointments spec §1; docs/lifecycle.md).

Every change is one call of a clinic-schema function — ``transition_appointment()`` or
``reschedule_appointment()`` (bookings/sql/tenant/0031) — which checks who may act, the
version and the guards, and writes the change, its history, its jobs and its live events in
one transaction. This module validates input, names the actor and maps outcomes to problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from bookings import outcomes
from carebook.errors import ValidationFailed
from carebook.tenancy import Tenant
from tenants.staff import StaffPrincipal

STAFF_ACTIONS = ("confirm", "start", "complete", "cancel", "no_show")
PATIENT = "patient"
SYSTEM = "system"

_TRANSITION = "SELECT * FROM public.transition_appointment_in($1, $2, $3, $4, $5, $6, $7)"
_RESCHEDULE = "SELECT * FROM public.reschedule_appointment_in($1, $2, $3, $4, $5, $6, $7, $8)"


@dataclass(frozen=True)
class Actor:
    """Who acts: ``patient``, ``staff`` (admin, receptionist), ``specialist`` (own
    appointments only) or ``system``; ``id`` is the patient's or staff member's id."""

    kind: str
    id: UUID | None = None

    @classmethod
    def for_staff(cls, staff: StaffPrincipal) -> Actor:
        return cls("specialist" if staff.role == "specialist" else "staff", staff.id)


@dataclass(frozen=True)
class Changed:
    id: UUID
    status: str
    version: int
    history_id: int


def _reason(reason: str | None, *, required: bool) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise ValidationFailed.field("reason", "Say why the appointment is cancelled.",
                                     code="reason_required")  # fmt: skip
    return text or None


async def transition(
    tenant: Tenant,
    appointment_id: UUID,
    action: str,
    version: int | None,
    actor: Actor,
    reason: str | None = None,
) -> Changed:
    """Take ``action`` on the appointment; ``version`` None only for the system's moves."""
    allowed = ("upcoming",) if actor.kind == SYSTEM else STAFF_ACTIONS
    if action not in allowed:
        raise ValidationFailed.field(
            "action", f"'{action}' is not an action; use one of {', '.join(allowed)}.",
            code="invalid_action",
        )  # fmt: skip
    if version is None and actor.kind != SYSTEM:
        raise ValidationFailed.field("version", "Send the appointment's version.")
    row = await outcomes.call(
        tenant, _TRANSITION, appointment_id, action, version, actor.kind, actor.id,
        _reason(reason, required=action == "cancel"),
    )  # fmt: skip
    return Changed(row["id"], row["status"], row["version"], row["history_id"])


async def reschedule(
    tenant: Tenant,
    appointment_id: UUID,
    version: int,
    start: datetime,
    specialist_id: UUID | None,
    actor: Actor,
    reason: str | None = None,
) -> Changed:
    """Move the appointment to ``start`` (its calendar's slot) atomically, or change nothing."""
    row = await outcomes.call(
        tenant, _RESCHEDULE, appointment_id, version, start, specialist_id, actor.kind,
        actor.id, _reason(reason, required=False),
    )  # fmt: skip
    return Changed(row["id"], row["status"], row["version"], row["history_id"])


async def transition_in(
    conn: asyncpg.Connection,
    appointment_id: UUID,
    action: str,
    version: int,
    actor: Actor,
    reason: str | None = None,
) -> Changed:
    """``transition`` inside the caller's tenant transaction (e.g. with its audit row), so
    the change and what the caller writes next commit together. No retries: a serialization
    failure surfaces to the caller."""
    if action not in STAFF_ACTIONS:
        raise ValidationFailed.field("action", f"'{action}' is not an action.",
                                     code="invalid_action")  # fmt: skip
    try:
        row = await conn.fetchrow(
            "SELECT * FROM transition_appointment($1, $2, $3, $4, $5, $6)",
            appointment_id, action, version, actor.kind, actor.id,
            _reason(reason, required=action == "cancel"),
        )  # fmt: skip
    except asyncpg.RaiseError as exc:
        raise outcomes.as_problem(exc) from None
    return Changed(row["id"], row["status"], row["version"], row["history_id"])


async def reschedule_in(
    conn: asyncpg.Connection,
    appointment_id: UUID,
    version: int,
    start: datetime,
    specialist_id: UUID | None,
    actor: Actor,
    reason: str | None = None,
) -> Changed:
    """``reschedule`` inside the caller's tenant transaction (see ``transition_in``)."""
    try:
        row = await conn.fetchrow(
            "SELECT * FROM reschedule_appointment($1, $2, $3, $4, $5, $6, $7)",
            appointment_id, version, start, specialist_id, actor.kind, actor.id,
            _reason(reason, required=False),
        )  # fmt: skip
    except asyncpg.RaiseError as exc:
        raise outcomes.as_problem(exc) from None
    return Changed(row["id"], row["status"], row["version"], row["history_id"])
