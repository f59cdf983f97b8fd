"""Contract tests of the Daily.co provider against the local fake Daily server."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.video.fake_daily import FakeDaily
from video.config import VideoSettings
from video.daily import DailyProvider
from video.errors import (
    RoomNotFound,
    VideoProviderMisconfigured,
    VideoProviderRejected,
    VideoProviderUnavailable,
)
from video.providers import Participant, RoomSpec, room_name, room_spec


def spec_at(start: datetime, minutes: int = 30, *, recording: bool = False) -> RoomSpec:
    return room_spec(uuid.uuid4(), start, start + timedelta(minutes=minutes), recording=recording)


def soon() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)


async def test_create_token_delete(fake_daily: FakeDaily, daily_settings: VideoSettings) -> None:
    daily = DailyProvider(daily_settings)
    spec = spec_at(soon())
    room = await daily.create_room(spec)

    stored = fake_daily.rooms[spec.name]
    assert stored["privacy"] == "private"
    assert stored["config"] == {
        "nbf": int(spec.opens_at.timestamp()),
        "exp": int(spec.closes_at.timestamp()),
        "eject_at_room_exp": True,
    }  # no recording property unless allowed
    assert room.url == f"https://{fake_daily.domain}.daily.co/{spec.name}"
    assert (room.opens_at, room.closes_at, room.recording) == (spec.opens_at, spec.closes_at, False)

    owner = await daily.participant_token(room, Participant("Dr Who", owner=True))
    guest = await daily.participant_token(room, Participant("Pat", owner=False))
    assert fake_daily.tokens[owner] == {
        "room_name": spec.name, "is_owner": True, "user_name": "Dr Who",
        "nbf": int(spec.opens_at.timestamp()), "exp": int(spec.closes_at.timestamp()),
    }  # fmt: skip
    assert fake_daily.tokens[guest]["is_owner"] is False

    assert await daily.delete_room(spec.name) is True
    assert spec.name not in fake_daily.rooms
    # Deleting a room that is gone is not an error: the room is gone either way.
    assert await daily.delete_room(spec.name) is False
    assert fake_daily.responses[-1] == 404


async def test_recording_property_only_when_allowed(
    fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    daily = DailyProvider(daily_settings)
    spec = spec_at(soon(), recording=True)
    room = await daily.create_room(spec)
    assert room.recording and fake_daily.rooms[spec.name]["config"]["enable_recording"] == "cloud"
    # Consent withdrawn: the update switches it off again.
    room = await daily.update_room(replace(spec, recording=False))
    assert not room.recording and "enable_recording" not in fake_daily.rooms[spec.name]["config"]


@pytest.mark.parametrize(
    ("zone", "local_start"),
    [
        ("Europe/Berlin", datetime(2027, 3, 28, 10, 0)),  # the spring-forward day (02:00 → 03:00)
        ("Europe/Berlin", datetime(2027, 10, 31, 2, 30)),  # autumn: 02:30 happens twice (fold 0)
        ("America/New_York", datetime(2027, 3, 14, 9, 0)),  # US spring-forward day
        ("Asia/Kolkata", datetime(2027, 6, 1, 14, 0)),  # +05:30, no DST
        ("Australia/Lord_Howe", datetime(2027, 4, 4, 12, 0)),  # half-hour DST shift
        ("UTC", datetime(2027, 1, 1, 0, 0)),
    ],
)
async def test_nbf_exp_bracket_the_appointment_in_every_zone(
    fake_daily: FakeDaily, daily_settings: VideoSettings, zone: str, local_start: datetime
) -> None:
    start = local_start.replace(tzinfo=ZoneInfo(zone))
    end = start.astimezone(UTC) + timedelta(minutes=45)  # 45 real minutes, whatever the clock
    settings = replace(daily_settings, grace=timedelta(minutes=20))
    spec = room_spec(uuid.uuid4(), start, end, settings=settings)
    await DailyProvider(settings).create_room(spec)
    config = fake_daily.rooms[spec.name]["config"]
    start_utc = start.astimezone(UTC)
    # Absolute instants: join 15 min before the start, eject 20 min (grace) after the end.
    assert config["nbf"] == int(start_utc.timestamp()) - 15 * 60
    assert config["exp"] == int(start_utc.timestamp()) + 45 * 60 + 20 * 60
    assert datetime.fromtimestamp(config["nbf"], ZoneInfo(zone)) == start - timedelta(minutes=15)


async def test_spring_forward_wall_clock_gap_is_one_real_hour(
    fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    """01:30 → 03:30 Berlin on 28 March 2027 is one real hour, and the room says so."""
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2027, 3, 28, 1, 30, tzinfo=zone)
    end = datetime(2027, 3, 28, 3, 30, tzinfo=zone)
    spec = room_spec(uuid.uuid4(), start, end, settings=daily_settings)
    await DailyProvider(daily_settings).create_room(spec)
    config = fake_daily.rooms[spec.name]["config"]
    grace = int(daily_settings.grace.total_seconds())
    assert config["exp"] - config["nbf"] == 15 * 60 + 3600 + grace


async def test_429_is_retried_after_the_limit_resets(
    fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    fake_daily.delete_rate_per_second = 2
    daily = DailyProvider(daily_settings)
    specs = [spec_at(soon() + timedelta(hours=i)) for i in range(4)]
    for spec in specs:
        await daily.create_room(spec)
    started = time.monotonic()
    results = await asyncio.gather(*(daily.delete_room(s.name) for s in specs))
    assert results == [True] * 4 and not fake_daily.rooms
    assert 429 in fake_daily.responses  # the limit was met…
    assert time.monotonic() - started >= 0.5  # …and its Retry-After honoured, not hammered


async def test_pacing_keeps_under_the_limit(
    fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    """Five deletes at once, paced at 2/s: they leave at least 0.55 s apart (10 % margin)
    however they were started, and all succeed."""
    paced = replace(daily_settings, daily_delete_rate_per_second=2)
    daily = DailyProvider(paced)
    specs = [spec_at(soon() + timedelta(hours=i)) for i in range(5)]
    for spec in specs:
        await daily.create_room(spec)
    started = time.monotonic()
    assert await asyncio.gather(*(daily.delete_room(s.name) for s in specs)) == [True] * 5
    assert time.monotonic() - started >= 4 * 0.55
    assert not fake_daily.rooms


async def test_5xx_retried_then_mapped(
    fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    daily = DailyProvider(replace(daily_settings, daily_max_attempts=3))
    fake_daily.fail_next(503, times=2)
    spec = spec_at(soon())
    room = await daily.create_room(spec)  # two failures, then success
    assert room.name == spec.name

    fake_daily.fail_next(500, times=3)
    with pytest.raises(VideoProviderUnavailable) as info:
        await daily.create_room(spec_at(soon()))
    assert info.value.status == 503 and info.value.headers["Retry-After"]


async def test_retry_after_5xx_on_create_finds_the_room(
    fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    """A create whose answer was lost (Daily made the room, then we saw an error) is
    retried and finds the room instead of failing on "already exists"."""
    daily = DailyProvider(daily_settings)
    spec = spec_at(soon())
    await daily.create_room(spec)
    again = await daily.create_room(spec)
    assert again.name == spec.name and len(fake_daily.rooms) == 1
    assert fake_daily.count("POST", "/rooms/" + spec.name) == 1  # the room was brought in line


async def test_wrong_key_is_misconfiguration(
    fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    daily = DailyProvider(replace(daily_settings, daily_api_key="not-the-key"))
    with pytest.raises(VideoProviderMisconfigured):
        await daily.create_room(spec_at(soon()))
    assert fake_daily.responses == [401]


async def test_missing_room_is_not_found(
    fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    daily = DailyProvider(daily_settings)
    with pytest.raises(RoomNotFound) as info:
        await daily.get_room(room_name(uuid.uuid4()))
    assert info.value.status == 404
    with pytest.raises(RoomNotFound):
        await daily.update_room(spec_at(soon()))


async def test_invalid_request_is_rejected_with_daily_info(
    fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    daily = DailyProvider(daily_settings)
    bad = RoomSpec(name="no spaces allowed", opens_at=soon(), closes_at=soon() + timedelta(hours=1))
    with pytest.raises(VideoProviderRejected) as info:
        await daily.create_room(bad)
    assert "A-Z" in str(info.value.detail)


async def test_missing_api_key_refused_before_any_request() -> None:
    with pytest.raises(VideoProviderMisconfigured):
        DailyProvider(VideoSettings(daily_api_key=None))


async def test_fake_enforces_auth_header_and_schema(fake_daily: FakeDaily) -> None:
    """The fake speaks Daily's error contract (so the tests above mean something)."""
    import httpx

    async with httpx.AsyncClient(base_url=fake_daily.url) as c:
        r = await c.post("/rooms", json={})
        assert (r.status_code, r.json()["error"]) == (400, "authorization-header-error")
        auth = {"Authorization": f"Bearer {fake_daily.api_key}"}
        r = await c.post("/rooms", json={"properties": {"nbf": "soon"}}, headers=auth)
        assert (r.status_code, r.json()["error"]) == (400, "invalid-request-error")
        r = await c.post("/rooms", content=b"{not json", headers=auth)
        assert r.json()["error"] == "json-parsing-error"
        r = await c.post("/rooms", json={"name": "x" * 42}, headers=auth)
        assert r.status_code == 400
