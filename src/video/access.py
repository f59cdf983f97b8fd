"""Who may enter a room: the patient by the manage-link token, the specialist (owner) by a
signed participant token from the staff join URL. Same rules for the page and the websocket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from bookings.outcomes import appointment_not_found
from carebook.errors import Forbidden, NotFound
from carebook.tenancy import Tenant, tenant_tx
from carebook.tokens import digests_match, token_digest
from tenants.staff import StaffPrincipal
from video import builtin, rooms
from video.config import VideoSettings
from video.errors import NotAVideoAppointment
from video.providers import room_name
from video.rooms import RoomRecord

INVALID_LINK = "This video link is not valid. Use the link from your appointment page or email."


@dataclass(frozen=True)
class Access:
    tenant: Tenant
    appointment_id: UUID
    owner: bool
    user_name: str
    zone: str  # the time zone to speak in: the patient's, or the clinic's for staff
    record: RoomRecord
    appointment_status: str
    starts_at: datetime

    @property
    def role(self) -> str:
        return "owner" if self.owner else "guest"


def invalid_link() -> NotFound:
    return NotFound(INVALID_LINK, code="video_link_invalid")


async def _manage_token_matches(conn: asyncpg.Connection, appointment_id: UUID, token: str) -> bool:
    digest = await conn.fetchval(
        "SELECT manage_token_hash FROM appointments WHERE id = $1", appointment_id
    )
    return digest is not None and digests_match(bytes(digest), token_digest(token))


async def resolve(
    tenant: Tenant,
    appointment_id: str,
    token: str | None,
    *,
    settings: VideoSettings | None = None,
    now: datetime | None = None,
) -> Access:
    """The caller's access to the appointment's room, or a 404 that reveals nothing (wrong
    token, wrong clinic, not a video appointment) / 403 (a staff link that has expired)."""
    try:
        key = UUID(appointment_id)
    except ValueError:
        raise invalid_link() from None
    if not token:
        raise invalid_link()
    claims = None
    async with tenant_tx(tenant) as conn:
        appt = await rooms.appointment(conn, key)
        if appt is None or not appt["video"]:
            raise invalid_link()
        if builtin.is_participant_token(token):
            claims = builtin.read_token(token, room_name(key))
            if claims is None:
                raise invalid_link()
            if builtin.token_expired(claims, now or datetime.now(UTC)):
                raise Forbidden(
                    "This join link has expired. Ask for a new one from the clinic.",
                    code="video_link_expired",
                )
        elif not await _manage_token_matches(conn, key, token):
            raise invalid_link()
    # The room is made on booking; if that job has not run yet, joining makes it now.
    record = await rooms.ensure_room(tenant, key, settings=settings)
    if record is None:
        async with tenant_tx(tenant) as conn:
            record = await rooms.room_record(conn, key)
        if record is None:
            raise NotFound(
                "There is no video room for this appointment.", code="video_room_not_found"
            )
    if claims is not None:
        return Access(tenant, key, claims.owner, claims.user_name, tenant.timezone, record,
                      appt["status"], appt["starts_at"])  # fmt: skip
    return Access(
        tenant, key, False, appt["patient_name"] or "Patient",
        appt["patient_timezone"] or tenant.timezone, record, appt["status"], appt["starts_at"],
    )  # fmt: skip


async def staff_room(
    tenant: Tenant,
    principal: StaffPrincipal,
    appointment_id: UUID,
    *,
    settings: VideoSettings | None = None,
) -> tuple[RoomRecord, str]:
    """The room the specialist (or a clinic admin) may enter as owner, and the name to show.

    Other roles may join no room (403 ``role_forbidden``, whatever the id); a specialist's
    view of another specialist's appointment is a 404, as a missing one (the staff API's
    rule, ``StaffPrincipal.appointment_scope``): the answer never tells that it exists."""
    if not principal.is_admin and principal.role != "specialist":
        raise Forbidden(
            "Only the appointment's specialist or a clinic admin may join its video room.",
            code="role_forbidden",
        )
    async with tenant_tx(tenant) as conn:
        appt = await rooms.appointment(conn, appointment_id, principal.appointment_scope)
    if appt is None:
        raise appointment_not_found()
    if not appt["video"]:
        raise NotAVideoAppointment("This appointment is not a video consultation.")
    record = await rooms.ensure_room(tenant, appointment_id, settings=settings)
    if record is None:
        raise NotFound("The video room of this appointment is closed.", code="video_room_not_found")
    return record, appt["specialist_name"] if not principal.is_admin else principal.name
