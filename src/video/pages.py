"""What the patient's manage page shows of the video consultation: the join link, when the
room opens, and the recording-consent question (only where the clinic records)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID

from carebook.tenancy import Tenant, tenant_tx
from video import consent, rooms
from video.providers import room_spec
from web.display import zone_or


def _when(at: datetime, zone_name: str) -> str:
    zone = zone_or(zone_name, "UTC")
    local = at.astimezone(zone)
    return f"{local.day} {local:%B %Y} at {local:%H:%M} ({zone.key})"


async def manage_section(tenant: Tenant, appointment_id: UUID, token: str) -> dict[str, Any] | None:
    """``None`` unless the appointment is a video consultation (then its link and consent)."""
    async with tenant_tx(tenant) as conn:
        appt = await rooms.appointment(conn, appointment_id)
        if appt is None or not appt["video"]:
            return None
        record = await rooms.room_record(conn, appointment_id)
        latest = await conn.fetchrow(
            "SELECT decision, at FROM video_recording_consents WHERE appointment_id = $1 "
            "ORDER BY id DESC LIMIT 1",
            appointment_id,
        )
    opens_at = (
        record.opens_at
        if record
        else room_spec(appointment_id, appt["starts_at"], appt["ends_at"]).opens_at
    )
    from video.routes import opening_text  # the room page says it the same way

    live = appt["status"] in rooms.LIVE_APPOINTMENT and (record is None or record.live)
    return {
        "join_url": f"/c/{tenant.slug}/video/{appointment_id}?token={quote(token, safe='')}",
        "live": live,
        "opening": opening_text(opens_at, appt["patient_timezone"] or tenant.timezone),
        "consent": {
            "asked": tenant.settings.recording_allowed,
            "wording": consent.wording_for(tenant),
            "decision": latest["decision"] if latest else None,
            "at": _when(latest["at"], appt["patient_timezone"] or tenant.timezone)
            if latest
            else None,
            "changeable": appt["status"] in consent.OPEN_STATUSES,
            "action": f"/c/{tenant.slug}/video/{appointment_id}/consent",
        },
    }
