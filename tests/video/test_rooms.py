"""Room use cases (the bodies of the video actors) against real PostgreSQL and the fake Daily."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from carebook.tenancy import tenant_tx
from tests.conftest import Clinic
from tests.video.fake_daily import FakeDaily
from tests.video.support import move, set_clinic_settings, set_status, video_appointment
from video import rooms
from video.config import VideoSettings
from video.providers import room_name


def tomorrow() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)


async def test_booked_twice_makes_one_room(
    clinic: Clinic, fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    tenant = await set_clinic_settings(clinic.tenant, video_provider="daily")
    appt = await video_appointment(tenant, tomorrow())
    # The same job delivered twice, at the same time.
    first, second = await asyncio.gather(
        rooms.ensure_room(tenant, appt.id, settings=daily_settings),
        rooms.ensure_room(tenant, appt.id, settings=daily_settings),
    )
    assert first is not None and second is not None
    assert first.room_name == second.room_name == room_name(appt.id)
    assert list(fake_daily.rooms) == [room_name(appt.id)]
    # And once more, later: nothing new.
    again = await rooms.ensure_room(tenant, appt.id, settings=daily_settings)
    assert again is not None and again.status == "ready"
    assert fake_daily.count("POST", "/rooms") <= 4 and len(fake_daily.rooms) == 1
    async with tenant_tx(tenant) as conn:
        assert await conn.fetchval("SELECT count(*) FROM video_rooms") == 1


async def test_no_room_for_ordinary_calendars(clinic: Clinic) -> None:
    appt = await video_appointment(clinic.tenant, tomorrow(), video=False)
    assert await rooms.ensure_room(clinic.tenant, appt.id) is None
    async with tenant_tx(clinic.tenant) as conn:
        assert await conn.fetchval("SELECT count(*) FROM video_rooms") == 0


async def test_builtin_is_the_default_and_window_brackets_the_appointment(clinic: Clinic) -> None:
    start = tomorrow()
    appt = await video_appointment(clinic.tenant, start, minutes=45)
    record = await rooms.ensure_room(clinic.tenant, appt.id)
    assert record is not None and record.provider == "builtin" and record.status == "ready"
    assert record.opens_at == start - timedelta(minutes=15)
    assert record.closes_at == start + timedelta(minutes=45) + timedelta(minutes=30)
    assert not record.recording


async def test_in_progress_marks_active(clinic: Clinic) -> None:
    appt = await video_appointment(clinic.tenant, tomorrow())
    await rooms.ensure_room(clinic.tenant, appt.id)
    await set_status(clinic.tenant, appt.id, "in_progress")
    record = await rooms.activate_room(clinic.tenant, appt.id)
    assert record is not None and record.status == "active"


async def test_cancel_and_no_show_delete_the_room(
    clinic: Clinic, fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    tenant = await set_clinic_settings(clinic.tenant, video_provider="daily")
    for final in ("cancelled", "no_show"):
        appt = await video_appointment(tenant, tomorrow())
        await rooms.ensure_room(tenant, appt.id, settings=daily_settings)
        assert room_name(appt.id) in fake_daily.rooms
        await set_status(tenant, appt.id, final)
        assert await rooms.delete_room(tenant, appt.id, settings=daily_settings)
        assert room_name(appt.id) not in fake_daily.rooms
        # Delivered again: nothing left to do, no error.
        assert not await rooms.delete_room(tenant, appt.id, settings=daily_settings)
        async with tenant_tx(tenant) as conn:
            assert (
                await conn.fetchval(
                    "SELECT status FROM video_rooms WHERE appointment_id = $1", appt.id
                )
                == "deleted"
            )


async def test_cancel_handled_before_create_leaves_no_room(
    clinic: Clinic, fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    tenant = await set_clinic_settings(clinic.tenant, video_provider="daily")
    appt = await video_appointment(tenant, tomorrow())
    await set_status(tenant, appt.id, "cancelled")
    assert not await rooms.delete_room(tenant, appt.id, settings=daily_settings)
    # The booking's job arrives late (and the appointment would even look live again).
    await set_status(tenant, appt.id, "booked")
    assert await rooms.ensure_room(tenant, appt.id, settings=daily_settings) is None
    assert not fake_daily.rooms


async def test_sweep_deletes_rooms_past_end_plus_grace(
    clinic: Clinic, fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    tenant = await set_clinic_settings(clinic.tenant, video_provider="daily")
    start = tomorrow()
    done = await video_appointment(tenant, start)
    later = await video_appointment(tenant, start + timedelta(hours=3))
    for a in (done, later):
        await rooms.ensure_room(tenant, a.id, settings=daily_settings)
    end_plus_grace = start + timedelta(minutes=30) + daily_settings.grace
    assert (
        await rooms.sweep_expired_rooms(
            tenant, now=end_plus_grace - timedelta(seconds=1), settings=daily_settings
        )
        == 0
    )
    assert await rooms.sweep_expired_rooms(tenant, now=end_plus_grace, settings=daily_settings) == 1
    assert list(fake_daily.rooms) == [room_name(later.id)]
    async with tenant_tx(tenant) as conn:
        assert (
            await conn.fetchval("SELECT status FROM video_rooms WHERE appointment_id = $1", done.id)
            == "expired"
        )


async def test_reschedule_moves_the_window(
    clinic: Clinic, fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    tenant = await set_clinic_settings(clinic.tenant, video_provider="daily")
    start = tomorrow()
    appt = await video_appointment(tenant, start)
    await rooms.ensure_room(tenant, appt.id, settings=daily_settings)
    new_start = start + timedelta(days=2, hours=1)
    await move(tenant, appt.id, new_start)
    record = await rooms.move_room(tenant, appt.id, settings=daily_settings)
    assert record is not None and record.opens_at == new_start - timedelta(minutes=15)
    config = fake_daily.rooms[room_name(appt.id)]["config"]
    assert config["nbf"] == int((new_start - timedelta(minutes=15)).timestamp())
    assert config["exp"] == int(
        (new_start + timedelta(minutes=30) + daily_settings.grace).timestamp()
    )


async def test_clinic_provider_setting_overrides_platform_default(clinic: Clinic) -> None:
    from dataclasses import replace

    from video.config import get_video_settings
    from video.providers import provider_name_for

    daily_default = replace(get_video_settings(), default_provider="daily")
    assert provider_name_for(clinic.tenant, daily_default) == "daily"
    tenant = await set_clinic_settings(clinic.tenant, video_provider="builtin")
    assert provider_name_for(tenant, daily_default) == "builtin"
