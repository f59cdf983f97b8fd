"""Room lifecycle use cases; the actor bodies (``video.actors``) call these.

Every function is idempotent and safe to run twice or concurrently (Dramatiq may deliver a
message twice): the room name is derived from the appointment id, so a second "create" finds
the room the first made, at the provider and in ``video_rooms`` (one row per appointment).

Ordering between jobs is not guaranteed (a cancel may be handled before the booking's
"create room"): ``delete_room`` leaves a ``deleted`` row behind so a late create does nothing,
and a create that finds its row deleted while it was talking to the provider deletes what it
made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from carebook.jobs import outbox
from carebook.tenancy import Tenant, tenant_tx
from video.config import VideoSettings, get_video_settings
from video.providers import (
    Room,
    RoomSpec,
    VideoProvider,
    provider_name_for,
    provider_named,
    room_spec,
)

log = logging.getLogger(__name__)

LIVE_APPOINTMENT = ("booked", "upcoming", "confirmed", "in_progress")
LIVE_ROOM = ("creating", "ready", "active")

APPOINTMENT_SQL = """
SELECT a.id, a.status, a.starts_at, a.ends_at, a.version, a.specialist_id, c.video,
       sp.name AS specialist_name, sp.staff_user AS specialist_staff_user,
       p.name AS patient_name, p.timezone AS patient_timezone
FROM appointments a
JOIN calendars c ON c.id = a.calendar_id
JOIN specialists sp ON sp.id = a.specialist_id
LEFT JOIN patients p ON p.id = a.patient_id
WHERE a.id = $1 AND ($2::uuid IS NULL OR sp.staff_user = $2)
"""


@dataclass(frozen=True)
class RoomRecord:
    appointment_id: UUID
    provider: str
    room_name: str
    room_url: str | None
    opens_at: datetime
    closes_at: datetime
    recording: bool
    status: str

    @property
    def live(self) -> bool:
        return self.status in LIVE_ROOM

    def as_room(self) -> Room:
        return Room(self.room_name, self.room_url, self.opens_at, self.closes_at, self.recording)

    @classmethod
    def of(cls, row: asyncpg.Record) -> RoomRecord:
        return cls(
            appointment_id=row["appointment_id"],
            provider=row["provider"],
            room_name=row["room_name"],
            room_url=row["room_url"],
            opens_at=row["opens_at"],
            closes_at=row["closes_at"],
            recording=row["recording"],
            status=row["status"],
        )


async def appointment(
    conn: asyncpg.Connection, appointment_id: UUID, scope: UUID | None = None
) -> asyncpg.Record | None:
    """The appointment with its video flag, specialist and patient; with ``scope``
    (``StaffPrincipal.appointment_scope``) only if it is that specialist's."""
    row: asyncpg.Record | None = await conn.fetchrow(APPOINTMENT_SQL, appointment_id, scope)
    return row


async def room_record(
    conn: asyncpg.Connection, appointment_id: UUID, *, lock: bool = False
) -> RoomRecord | None:
    row = await conn.fetchrow(
        "SELECT * FROM video_rooms WHERE appointment_id = $1" + (" FOR UPDATE" if lock else ""),
        appointment_id,
    )
    return RoomRecord.of(row) if row else None


async def recording_consented(conn: asyncpg.Connection, appointment_id: UUID) -> bool:
    decision = await conn.fetchval(
        "SELECT decision FROM video_recording_consents WHERE appointment_id = $1 "
        "ORDER BY id DESC LIMIT 1",
        appointment_id,
    )
    return bool(decision == "given")


async def recording_wanted(conn: asyncpg.Connection, tenant: Tenant, appointment_id: UUID) -> bool:
    """Recording only where the clinic allows it and the patient's latest word is yes."""
    return tenant.settings.recording_allowed and await recording_consented(conn, appointment_id)


def expiry_key(appointment_id: UUID) -> str:
    # Under the appointment's prefix: cancelling or rescheduling drops it with the rest.
    return f"appointment:{appointment_id}:video.expire"


async def schedule_expiry(conn: asyncpg.Connection, appointment_id: UUID, at: datetime) -> None:
    """The room is deleted (``video.delete_room``, event ``expired``) once its window closes."""
    await outbox.schedule(
        conn,
        expiry_key(appointment_id),
        "video.delete_room",
        {"appointment_id": str(appointment_id), "event": "expired"},
        at,
    )


async def recording_enabled_for(tenant: Tenant, appointment_id: UUID) -> bool:
    async with tenant_tx(tenant) as conn:
        return await recording_wanted(conn, tenant, appointment_id)


async def _spec_for(
    conn: asyncpg.Connection, tenant: Tenant, appt: asyncpg.Record, settings: VideoSettings
) -> RoomSpec:
    recording = await recording_wanted(conn, tenant, appt["id"])
    return room_spec(
        appt["id"], appt["starts_at"], appt["ends_at"], recording=recording, settings=settings
    )


async def ensure_room(
    tenant: Tenant, appointment_id: UUID, *, settings: VideoSettings | None = None
) -> RoomRecord | None:
    """The appointment's room, created if it has none (``booked``). ``None`` when the
    appointment is not a live video consultation, or its room was deleted."""
    settings = settings or get_video_settings()
    async with tenant_tx(tenant) as conn:
        appt = await appointment(conn, appointment_id)
        if appt is None or not appt["video"] or appt["status"] not in LIVE_APPOINTMENT:
            return None
        record = await room_record(conn, appointment_id, lock=True)
        if record is not None and record.status != "creating":
            return record if record.live else None
        spec = await _spec_for(conn, tenant, appt, settings)
        provider_name = record.provider if record else provider_name_for(tenant, settings)
        if record is None:
            # No arbiter: a concurrent delivery's row conflicts on room_name as well as on
            # appointment_id (the room name derives from it), whichever index is checked first.
            await conn.execute(
                """INSERT INTO video_rooms (appointment_id, provider, room_name, opens_at,
                       closes_at, recording)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
                appointment_id, provider_name, spec.name, spec.opens_at, spec.closes_at,
                spec.recording,
            )  # fmt: skip
    provider = provider_named(provider_name, settings)
    room = await provider.create_room(spec)
    async with tenant_tx(tenant) as conn:
        row = await conn.fetchrow(
            """UPDATE video_rooms SET status = 'ready', room_url = $2, opens_at = $3,
                   closes_at = $4, recording = $5, updated_at = now()
               WHERE appointment_id = $1 AND status = 'creating' RETURNING *""",
            appointment_id, room.url, room.opens_at, room.closes_at, room.recording,
        )  # fmt: skip
        record = RoomRecord.of(row) if row else await room_record(conn, appointment_id)
        if row is not None:
            await schedule_expiry(conn, appointment_id, room.closes_at)
    if record is not None and not record.live:
        # Deleted while we were creating it: do not leave the provider's room behind.
        await provider.delete_room(spec.name)
        return None
    return record


async def activate_room(
    tenant: Tenant, appointment_id: UUID, *, settings: VideoSettings | None = None
) -> RoomRecord | None:
    """The call started (``in_progress``): mark the room active (creating it if missing)."""
    record = await ensure_room(tenant, appointment_id, settings=settings)
    if record is None:
        return None
    async with tenant_tx(tenant) as conn:
        row = await conn.fetchrow(
            """UPDATE video_rooms SET status = 'active', activated_at = now(), updated_at = now()
               WHERE appointment_id = $1 AND status = 'ready' RETURNING *""",
            appointment_id,
        )
        return RoomRecord.of(row) if row else await room_record(conn, appointment_id)


async def delete_room(
    tenant: Tenant,
    appointment_id: UUID,
    *,
    final_status: str = "deleted",
    settings: VideoSettings | None = None,
    now: datetime | None = None,
) -> bool:
    """Close the room (``cancelled``, ``no_show``; ``expired`` by the sweep). The provider's
    room goes first, then the row: a failure in between is retried and finds the same room.
    Returns whether there was a live room."""
    settings = settings or get_video_settings()
    async with tenant_tx(tenant) as conn:
        record = await room_record(conn, appointment_id)
        if final_status == "expired" and (
            record is None or record.closes_at > (now or datetime.now(UTC))
        ):
            return False  # not due (moved since the expiry was scheduled) or no room at all
        if record is None:
            appt = await appointment(conn, appointment_id)
            if appt is None or not appt["video"]:
                return False
            # A tombstone: a "create room" job that arrives late must not make one.
            spec = room_spec(appt["id"], appt["starts_at"], appt["ends_at"], settings=settings)
            await conn.execute(
                """INSERT INTO video_rooms (appointment_id, provider, room_name, opens_at,
                       closes_at, status, deleted_at)
                   VALUES ($1, $2, $3, $4, $5, $6, now())
                   ON CONFLICT DO NOTHING""",
                appointment_id, provider_name_for(tenant, settings), spec.name, spec.opens_at,
                spec.closes_at, final_status,
            )  # fmt: skip
            record = await room_record(conn, appointment_id)
            if record is None or not record.live:
                return False
    if not record.live:
        return False
    await provider_named(record.provider, settings).delete_room(record.room_name)
    async with tenant_tx(tenant) as conn:
        done = await conn.fetchval(
            """UPDATE video_rooms SET status = $2, deleted_at = now(), updated_at = now()
               WHERE appointment_id = $1 AND status IN ('creating', 'ready', 'active')
               RETURNING true""",
            appointment_id,
            final_status,
        )
    return bool(done)


async def move_room(
    tenant: Tenant, appointment_id: UUID, *, settings: VideoSettings | None = None
) -> RoomRecord | None:
    """Rescheduled: the room's window follows the appointment's new time."""
    settings = settings or get_video_settings()
    async with tenant_tx(tenant) as conn:
        appt = await appointment(conn, appointment_id)
        record = await room_record(conn, appointment_id)
        spec = None
        if appt is not None and record is not None and record.live:
            spec = await _spec_for(conn, tenant, appt, settings)
    if spec is None or record is None:
        # Outside the transaction above: ensure_room opens its own, and a worker's small pool
        # must never have one task wait for a second connection while holding a first.
        return await ensure_room(tenant, appointment_id, settings=settings)
    moved = await _apply(tenant, record, spec, settings)
    if moved is not None:
        # A reschedule dropped the appointment's timed jobs: the expiry follows the new window.
        async with tenant_tx(tenant) as conn:
            await schedule_expiry(conn, appointment_id, moved.closes_at)
    return moved


async def sync_recording(
    tenant: Tenant, appointment_id: UUID, *, settings: VideoSettings | None = None
) -> RoomRecord | None:
    """Consent changed: the room's recording property follows it."""
    return await move_room(tenant, appointment_id, settings=settings)


async def _apply(
    tenant: Tenant, record: RoomRecord, spec: RoomSpec, settings: VideoSettings
) -> RoomRecord | None:
    if (spec.opens_at, spec.closes_at, spec.recording) == (
        record.opens_at, record.closes_at, record.recording,
    ):  # fmt: skip
        return record
    room = await provider_named(record.provider, settings).update_room(spec)
    async with tenant_tx(tenant) as conn:
        row = await conn.fetchrow(
            """UPDATE video_rooms SET opens_at = $2, closes_at = $3, recording = $4,
                   updated_at = now()
               WHERE appointment_id = $1 AND status IN ('creating', 'ready', 'active')
               RETURNING *""",
            record.appointment_id, room.opens_at, room.closes_at, room.recording,
        )  # fmt: skip
    return RoomRecord.of(row) if row else None


async def sweep_expired_rooms(
    tenant: Tenant, *, now: datetime | None = None, settings: VideoSettings | None = None
) -> int:
    """Delete every room whose window closed (end + grace) and that is still open."""
    now = now or datetime.now(UTC)
    async with tenant_tx(tenant) as conn:
        due = await conn.fetch(
            "SELECT appointment_id FROM video_rooms "
            "WHERE status IN ('creating', 'ready', 'active') AND closes_at <= $1",
            now,
        )
    swept = 0
    for row in due:
        if await delete_room(
            tenant, row["appointment_id"], final_status="expired", settings=settings, now=now
        ):
            swept += 1
    return swept


def provider_of(record: RoomRecord, settings: VideoSettings | None = None) -> VideoProvider:
    return provider_named(record.provider, settings)


def window_state(record: RoomRecord, now: datetime | None = None) -> str:
    """``before`` / ``open`` / ``after`` the room's join window."""
    now = now or datetime.now(UTC)
    if now < record.opens_at:
        return "before"
    return "open" if now < record.closes_at else "after"


def describe(record: RoomRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "provider": record.provider,
        "status": record.status,
        "opens_at": record.opens_at.isoformat(),
        "closes_at": record.closes_at.isoformat(),
        "recording": record.recording,
    }
