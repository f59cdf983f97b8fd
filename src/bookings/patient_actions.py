"""What a patient can do with their manage link: cancel and reschedule (until the cutoff)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from bookings import lifecycle, manage_links
from bookings.lifecycle import Actor, Changed
from bookings.reads import manage_view
from carebook.errors import NotFound
from carebook.tenancy import Tenant, tenant_tx


async def _patient(tenant: Tenant, appointment_id: UUID, token: str | None) -> Actor:
    """The appointment's patient if ``token`` is its manage token; else a 404 revealing nothing."""
    missing = NotFound("This appointment link is not valid.", code="appointment_not_found")
    if not token:
        raise missing
    async with tenant_tx(tenant) as conn:
        row = await manage_view(conn, appointment_id)
    # The token shown at booking, or the link token of the e-mails (bookings/manage_links.py).
    if row is None or not manage_links.token_valid(
        tenant, appointment_id, bytes(row["manage_token_hash"]), token
    ):
        raise missing
    return Actor(lifecycle.PATIENT, row["patient_id"])


async def cancel(
    tenant: Tenant, appointment_id: UUID, token: str | None, version: int, reason: str
) -> Changed:
    actor = await _patient(tenant, appointment_id, token)
    return await lifecycle.transition(tenant, appointment_id, "cancel", version, actor, reason)


async def reschedule(
    tenant: Tenant,
    appointment_id: UUID,
    token: str | None,
    version: int,
    start: datetime,
    specialist_id: UUID | None,
) -> Changed:
    actor = await _patient(tenant, appointment_id, token)
    return await lifecycle.reschedule(tenant, appointment_id, version, start, specialist_id, actor)
