"""The provider interface: create a room bracketing an appointment, issue participant tokens,
move and delete rooms. ``provider_for(tenant)`` picks the clinic's provider (its
``video_provider`` setting, else the platform default ``CAREBOOK_VIDEO_PROVIDER``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from carebook.tenancy import Tenant
from video.config import JOIN_EARLY, PROVIDERS, VideoSettings, get_video_settings


@dataclass(frozen=True)
class RoomSpec:
    """What a room must be: its name and join window (instants are timezone-aware)."""

    name: str
    opens_at: datetime
    closes_at: datetime
    recording: bool = False


@dataclass(frozen=True)
class Room:
    name: str
    url: str | None
    opens_at: datetime
    closes_at: datetime
    recording: bool


@dataclass(frozen=True)
class Participant:
    """Who joins: the specialist is the room's owner, the patient a guest."""

    user_name: str
    owner: bool


class VideoProvider(Protocol):
    name: str

    async def create_room(self, spec: RoomSpec) -> Room:
        """Create the room, or return the one a previous attempt made (same name)."""

    async def update_room(self, spec: RoomSpec) -> Room:
        """Move an existing room's window (reschedule) and recording property."""

    async def participant_token(self, room: Room, who: Participant) -> str:
        """A token admitting ``who`` to ``room`` within its window only."""

    async def delete_room(self, name: str) -> bool:
        """Delete the room; ``False`` if it did not exist (already deleted is fine)."""


def room_name(appointment_id: UUID) -> str:
    """Deterministic, unique across clinics (appointment ids are random UUIDs), and within
    Daily's name rules (``[A-Za-z0-9_-]``, at most 41 characters)."""
    return f"cb-{appointment_id.hex}"


def room_spec(
    appointment_id: UUID,
    starts_at: datetime,
    ends_at: datetime,
    *,
    recording: bool = False,
    settings: VideoSettings | None = None,
) -> RoomSpec:
    """The room for an appointment: open from start − 15 min until end + grace."""
    settings = settings or get_video_settings()
    # In UTC: arithmetic on a zoned datetime is wall-clock arithmetic (wrong across DST).
    return RoomSpec(
        name=room_name(appointment_id),
        opens_at=starts_at.astimezone(UTC) - JOIN_EARLY,
        closes_at=ends_at.astimezone(UTC) + settings.grace,
        recording=recording,
    )


def provider_name_for(tenant: Tenant, settings: VideoSettings | None = None) -> str:
    chosen = tenant.settings.video_provider or (settings or get_video_settings()).default_provider
    if chosen not in PROVIDERS:
        raise RuntimeError(f"clinic {tenant.slug}: unknown video provider {chosen!r}")
    return chosen


def provider_named(name: str, settings: VideoSettings | None = None) -> VideoProvider:
    settings = settings or get_video_settings()
    if name == "daily":
        from video.daily import daily_provider

        return daily_provider(settings)
    from video.builtin import BuiltinProvider

    return BuiltinProvider()


def provider_for(tenant: Tenant, settings: VideoSettings | None = None) -> VideoProvider:
    return provider_named(provider_name_for(tenant, settings), settings)
