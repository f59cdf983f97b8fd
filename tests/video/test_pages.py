"""The room page, the staff join URL and the signalling websocket (built-in provider)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
import websockets

from tests.conftest import Clinic, LiveServer
from tests.helpers import problem
from tests.video.support import set_status, video_appointment


def now_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def page(clinic: Clinic, appointment_id: object, token: str) -> str:
    return f"/c/{clinic.slug}/video/{appointment_id}?token={quote(token, safe='')}"


async def test_patient_before_the_window_sees_the_opening_time(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    # 15:00 Berlin tomorrow: the room opens at 14:45 the patient's time.
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Berlin")
    day = (datetime.now(zone) + timedelta(days=1)).date()
    start = datetime(day.year, day.month, day.day, 15, 0, tzinfo=zone)
    appt = await video_appointment(clinic.tenant, start)
    r = await client.get(page(clinic, appt.id, appt.manage_token))
    assert r.status_code == 200
    assert "opens at 14:45 your time" in r.text
    assert 'data-testid="video-room"' not in r.text
    assert r.headers["cache-control"] == "no-store"


async def test_patient_in_the_window_gets_the_room(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    appt = await video_appointment(clinic.tenant, now_minute() + timedelta(minutes=5))
    r = await client.get(page(clinic, appt.id, appt.manage_token))
    assert r.status_code == 200 and 'data-testid="video-room"' in r.text
    assert '"role": "guest"' in r.text
    assert "toggle-recording" not in r.text  # no consent, no recording control
    assert "camera=(self)" in r.headers["permissions-policy"]


async def test_wrong_or_foreign_token_is_refused(
    client: httpx.AsyncClient, clinic: Clinic, make_clinic: object
) -> None:
    appt = await video_appointment(clinic.tenant, now_minute() + timedelta(minutes=5))
    r = await client.get(page(clinic, appt.id, "cbm_not-the-token"))
    assert r.status_code == 404 and "not valid" in r.text
    r = await client.get(f"/c/{clinic.slug}/video/{appt.id}")
    assert r.status_code == 404
    # A forged participant token (signature does not match).
    r = await client.get(page(clinic, appt.id, "cbv1.eyJyIjoieCJ9.00"))
    assert r.status_code == 404


async def test_cancelled_appointment_room_is_closed(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    from video import rooms

    appt = await video_appointment(clinic.tenant, now_minute() + timedelta(minutes=5))
    await rooms.ensure_room(clinic.tenant, appt.id)
    await set_status(clinic.tenant, appt.id, "cancelled")
    await rooms.delete_room(clinic.tenant, appt.id)
    r = await client.get(page(clinic, appt.id, appt.manage_token))
    assert r.status_code == 200 and 'data-testid="video-closed"' in r.text


async def test_staff_join_url_admits_the_owner(client: httpx.AsyncClient, clinic: Clinic) -> None:
    appt = await video_appointment(clinic.tenant, now_minute() + timedelta(minutes=5))
    r = await client.post(f"{clinic.api}/appointments/{appt.id}/video/join", headers=clinic.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider"] == "builtin"
    assert body["url"].startswith(f"/c/{clinic.slug}/video/{appt.id}?token=cbv1.")
    r = await client.get(body["url"])
    assert r.status_code == 200 and '"role": "owner"' in r.text
    # The token is for this room only.
    other = await video_appointment(clinic.tenant, now_minute() + timedelta(hours=2))
    token = body["url"].split("token=")[1]
    r = await client.get(f"/c/{clinic.slug}/video/{other.id}?token={token}")
    assert r.status_code == 404


async def test_staff_join_needs_staff_and_a_video_appointment(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    appt = await video_appointment(clinic.tenant, now_minute() + timedelta(minutes=5))
    r = await client.post(f"{clinic.api}/appointments/{appt.id}/video/join")
    problem(r, 401)
    plain = await video_appointment(clinic.tenant, now_minute() + timedelta(hours=3), video=False)
    r = await client.post(
        f"{clinic.api}/appointments/{plain.id}/video/join", headers=clinic.headers
    )
    problem(r, 409, "not_a_video_appointment")


async def test_expired_staff_link_is_refused(client: httpx.AsyncClient, clinic: Clinic) -> None:
    from video.builtin import TokenClaims, issue_token
    from video.providers import room_name

    appt = await video_appointment(clinic.tenant, now_minute() + timedelta(minutes=5))
    past = int((now_minute() - timedelta(minutes=1)).timestamp())
    token = issue_token(TokenClaims(room_name(appt.id), True, "Dr Vid", past - 3600, past))
    r = await client.get(page(clinic, appt.id, token))
    assert r.status_code == 403 and "expired" in r.text


@pytest.mark.slow
async def test_signalling_crosses_app_processes(
    live_server: LiveServer, live_server_b: LiveServer, clinic: Clinic
) -> None:
    """Patient on process A, specialist on process B: messages relay through Redis."""
    appt = await video_appointment(clinic.tenant, now_minute() + timedelta(minutes=5))
    async with httpx.AsyncClient(base_url=live_server_b.url) as api:
        r = await api.post(
            f"{clinic.api}/appointments/{appt.id}/video/join", headers=clinic.headers
        )
        owner_token = r.json()["url"].split("token=")[1]
    ws_a = live_server.url.replace("http", "ws") + f"/c/{clinic.slug}/video/{appt.id}/ws?token="
    ws_b = live_server_b.url.replace("http", "ws") + f"/c/{clinic.slug}/video/{appt.id}/ws?token="

    async def next_of(ws: websockets.ClientConnection, kind: str) -> dict[str, object]:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == kind:
                return message  # type: ignore[no-any-return]

    async with (
        websockets.connect(ws_a + quote(appt.manage_token, safe="")) as patient,
        websockets.connect(ws_b + owner_token) as doctor,
    ):
        await next_of(patient, "welcome")
        await next_of(doctor, "welcome")
        await patient.send(json.dumps({"type": "join"}))
        joined = await next_of(doctor, "join")
        assert joined["role"] == "guest" and joined["name"] == "Pat Video"
        await doctor.send(json.dumps({"type": "offer", "sid": "s1", "sdp": {"type": "offer"}}))
        offer = await next_of(patient, "offer")
        assert offer["role"] == "owner" and offer["sid"] == "s1"
        # Browsers cannot claim to be someone else: the server stamps the sender.
        await patient.send(json.dumps({"type": "answer", "sid": "s1", "role": "owner"}))
        assert (await next_of(doctor, "answer"))["role"] == "guest"

    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(ws_a + "cbm_wrong"):
            pass


async def test_daily_room_page_hands_over_with_a_meeting_token(
    client: httpx.AsyncClient,
    clinic: Clinic,
    fake_daily: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.video.fake_daily import FakeDaily
    from tests.video.support import set_clinic_settings
    from video.config import get_video_settings
    from video.providers import room_name

    assert isinstance(fake_daily, FakeDaily)
    monkeypatch.setenv("DAILY_API_KEY", fake_daily.api_key)
    monkeypatch.setenv("DAILY_API_URL", fake_daily.url)
    get_video_settings.cache_clear()
    try:
        tenant = await set_clinic_settings(clinic.tenant, video_provider="daily")
        appt = await video_appointment(tenant, now_minute() + timedelta(minutes=5))
        r = await client.get(page(clinic, appt.id, appt.manage_token))
        assert r.status_code in (302, 303), r.text
        room_url = f"https://{fake_daily.domain}.daily.co/{room_name(appt.id)}?t="
        assert r.headers["location"].startswith(room_url)
        token = r.headers["location"].removeprefix(room_url)
        assert fake_daily.tokens[token]["is_owner"] is False
        assert fake_daily.tokens[token]["user_name"] == "Pat Video"
        # Daily down: a clear page, never a 500.
        fake_daily.fail_next(503, times=10)
        r = await client.get(page(clinic, appt.id, appt.manage_token))
        assert r.status_code == 503 and "video service" in r.text.lower()
    finally:
        monkeypatch.undo()
        get_video_settings.cache_clear()


async def test_only_the_appointments_specialist_or_an_admin_joins_as_owner(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    from tests.bookings.lifecycle_support import staff_member

    own_id, own = await staff_member(clinic, "specialist", "own@vid.test")
    _, other = await staff_member(clinic, "specialist", "other@vid.test")
    _, desk = await staff_member(clinic, "receptionist", "desk@vid.test")
    appt = await video_appointment(
        clinic.tenant, now_minute() + timedelta(minutes=5), staff_user=own_id
    )
    url = f"{clinic.api}/appointments/{appt.id}/video/join"
    r = await client.post(url, headers=own)
    assert r.status_code == 200, r.text
    assert (await client.get(r.json()["url"])).status_code == 200
    # Another specialist: 404, as a missing appointment; the front desk joins no room at all.
    problem(await client.post(url, headers=other), 404, "appointment_not_found")
    problem(await client.post(url, headers=desk), 403, "role_forbidden")
    missing = f"{clinic.api}/appointments/{uuid.uuid4()}/video/join"
    problem(await client.post(missing, headers=desk), 403, "role_forbidden")


async def test_another_specialists_video_room_is_as_a_missing_appointment(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    from tests.bookings.lifecycle_support import staff_member

    own_id, _ = await staff_member(clinic, "specialist", "own@vid.test")
    _, other = await staff_member(clinic, "specialist", "other@vid.test")
    appt = await video_appointment(
        clinic.tenant, now_minute() + timedelta(minutes=5), staff_user=own_id
    )
    missing_id = uuid.uuid4()
    theirs = await client.post(f"{clinic.api}/appointments/{appt.id}/video/join", headers=other)
    missing = await client.post(f"{clinic.api}/appointments/{missing_id}/video/join",
                                headers=other)  # fmt: skip
    problem(theirs, 404, "appointment_not_found")
    assert theirs.headers["content-type"] == missing.headers["content-type"]
    body, expected = theirs.json(), missing.json()
    assert body.pop("instance").replace(str(appt.id), "ID") == expected.pop("instance").replace(
        str(missing_id), "ID"
    )
    assert body == expected
    # Nor does a 409 tell that another's appointment exists and is not a video one.
    third_id, _ = await staff_member(clinic, "specialist", "third@vid.test")
    plain = await video_appointment(clinic.tenant, now_minute() + timedelta(hours=2),
                                    video=False, staff_user=third_id)  # fmt: skip
    join = f"{clinic.api}/appointments/{plain.id}/video/join"
    problem(await client.post(join, headers=clinic.headers), 409, "not_a_video_appointment")
    problem(await client.post(join, headers=other), 404, "appointment_not_found")


@pytest.mark.slow
async def test_a_flooding_client_is_disconnected(live_server: LiveServer, clinic: Clinic) -> None:
    from video.signalling import MAX_MESSAGES_PER_SECOND

    appt = await video_appointment(clinic.tenant, now_minute() + timedelta(minutes=5))
    url = live_server.url.replace("http", "ws") + f"/c/{clinic.slug}/video/{appt.id}/ws?token="
    async with websockets.connect(url + quote(appt.manage_token, safe="")) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            for _ in range(MAX_MESSAGES_PER_SECOND * 3):
                await ws.send(json.dumps({"type": "ice", "sid": "x"}))
            await asyncio.wait_for(ws.recv(), 5)
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
