"""Recording consent: asked only where the clinic allows recording; every decision is kept
with its time and the exact wording shown; withdrawable until the consultation starts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from carebook.errors import Conflict, NotFound, ValidationFailed
from carebook.tenancy import Tenant, tenant_tx
from video import rooms

CONSENT_WORDING = (
    "I agree that {clinic} may record the audio and video of this consultation and keep the "
    "recording in my records. I can withdraw this consent on this page until the consultation "
    "starts."
)
OPEN_STATUSES = ("booked", "upcoming", "confirmed")


def wording_for(tenant: Tenant) -> str:
    return CONSENT_WORDING.format(clinic=tenant.name)


async def _patient_appointment(tenant: Tenant, appointment_id: str, token: str | None) -> Any:
    from carebook.tokens import digests_match, token_digest

    missing = NotFound(
        "This appointment link is not valid. Check that you copied the whole link.",
        code="appointment_not_found",
    )
    try:
        key = UUID(appointment_id)
    except ValueError:
        raise missing from None
    if not token:
        raise missing
    async with tenant_tx(tenant) as conn:
        appt = await rooms.appointment(conn, key)
        digest = await conn.fetchval(
            "SELECT manage_token_hash FROM appointments WHERE id = $1", key
        )
    if appt is None or digest is None or not digests_match(bytes(digest), token_digest(token)):
        raise missing
    return appt


async def _latest(conn: Any, appointment_id: UUID) -> Any:
    return await conn.fetchrow(
        "SELECT decision, wording, source, at FROM video_recording_consents "
        "WHERE appointment_id = $1 ORDER BY id DESC LIMIT 1",
        appointment_id,
    )


async def state(tenant: Tenant, appointment_id: str, token: str | None) -> dict[str, Any]:
    appt = await _patient_appointment(tenant, appointment_id, token)
    async with tenant_tx(tenant) as conn:
        latest = await _latest(conn, appt["id"])
    return {
        "asked": bool(appt["video"] and tenant.settings.recording_allowed),
        "wording": wording_for(tenant),
        "decision": latest["decision"] if latest else None,
        "at": latest["at"].isoformat() if latest else None,
        "changeable": appt["status"] in OPEN_STATUSES,
    }


async def record_decision(
    tenant: Tenant, appointment_id: str, token: str | None, decision: str, source: str
) -> dict[str, Any]:
    if decision not in ("given", "revoked"):
        raise ValidationFailed.field("decision", "Must be 'given' or 'revoked'.")
    if source not in ("manage", "join"):
        raise ValidationFailed.field("source", "Must be 'manage' or 'join'.")
    appt = await _patient_appointment(tenant, appointment_id, token)
    if not appt["video"] or not tenant.settings.recording_allowed:
        raise Conflict("This clinic does not record consultations.", code="recording_not_allowed")
    if appt["status"] not in OPEN_STATUSES:
        raise Conflict(
            "The consultation has started or ended; consent can no longer be changed here.",
            code="consent_closed",
        )
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            "INSERT INTO video_recording_consents (appointment_id, decision, wording, source) "
            "VALUES ($1, $2, $3, $4)",
            appt["id"], decision, wording_for(tenant), source,
        )  # fmt: skip
    # A room that exists already follows the decision (Daily: its recording property).
    await rooms.sync_recording(tenant, appt["id"])
    return await state(tenant, appointment_id, token)


async def recording_enabled(tenant: Tenant, appointment_id: UUID) -> bool:
    async with tenant_tx(tenant) as conn:
        return await rooms.recording_wanted(conn, tenant, appointment_id)
