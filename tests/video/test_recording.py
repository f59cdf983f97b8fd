"""Recording only where the clinic allows it and the patient consented; consent is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx

from carebook.tenancy import tenant_tx
from tests.conftest import Clinic
from tests.helpers import problem
from tests.video.fake_daily import FakeDaily
from tests.video.support import set_clinic_settings, set_status, video_appointment
from video import rooms
from video.config import VideoSettings
from video.providers import room_name


def soon() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=5)


def consent_url(clinic: Clinic, appointment_id: object) -> str:
    return f"{clinic.public}/appointments/{appointment_id}/video/consent"


async def test_consent_refused_where_the_clinic_does_not_record(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    appt = await video_appointment(clinic.tenant, soon())
    r = await client.post(consent_url(clinic, appt.id), json={"decision": "given"},
                          headers={"X-Manage-Token": appt.manage_token})  # fmt: skip
    problem(r, 409, "recording_not_allowed")
    r = await client.get(
        consent_url(clinic, appt.id), headers={"X-Manage-Token": appt.manage_token}
    )
    assert r.json()["asked"] is False
    # No question on the manage page, no control in the room.
    page = await client.get(f"/c/{clinic.slug}/manage/{appt.id}?token={quote(appt.manage_token)}")
    assert 'data-testid="video-section"' in page.text
    assert 'data-testid="recording-consent"' not in page.text


async def test_consent_is_recorded_with_wording_and_time_and_revocable(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    tenant = await set_clinic_settings(clinic.tenant, recording_allowed=True)
    appt = await video_appointment(tenant, soon())
    headers = {"X-Manage-Token": appt.manage_token}
    assert not await rooms.recording_enabled_for(tenant, appt.id)
    r = await client.post(consent_url(clinic, appt.id), json={"decision": "given"}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "given" and tenant.name in r.json()["wording"]
    assert await rooms.recording_enabled_for(tenant, appt.id)

    # The specialist's room page now has the recording control; the patient's never does.
    join = await client.post(f"{clinic.api}/appointments/{appt.id}/video/join",
                             headers=clinic.headers)  # fmt: skip
    owner_page = await client.get(join.json()["url"])
    assert 'id="toggle-recording"' in owner_page.text
    guest_page = await client.get(
        f"/c/{clinic.slug}/video/{appt.id}?token={quote(appt.manage_token)}"
    )
    assert 'id="toggle-recording"' not in guest_page.text

    # Withdrawn before the call: the control is gone again.
    r = await client.post(consent_url(clinic, appt.id), json={"decision": "revoked"},
                          headers=headers)  # fmt: skip
    assert r.json()["decision"] == "revoked"
    owner_page = await client.get(join.json()["url"])
    assert 'id="toggle-recording"' not in owner_page.text

    async with tenant_tx(tenant) as conn:
        audit = await conn.fetch(
            "SELECT decision, wording, source, at FROM video_recording_consents "
            "WHERE appointment_id = $1 ORDER BY id",
            appt.id,
        )
    assert [a["decision"] for a in audit] == ["given", "revoked"]
    assert all(a["wording"] == r.json()["wording"] and a["source"] == "manage" for a in audit)
    assert audit[0]["at"] < audit[1]["at"]
    # The audit trail cannot be rewritten.
    async with tenant_tx(tenant) as conn:
        try:
            await conn.execute("DELETE FROM video_recording_consents")
            raise AssertionError("delete allowed")
        except Exception as exc:  # asyncpg.RaiseError
            assert "append-only" in str(exc)


async def test_consent_closes_when_the_consultation_starts(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    tenant = await set_clinic_settings(clinic.tenant, recording_allowed=True)
    appt = await video_appointment(tenant, soon())
    await set_status(tenant, appt.id, "in_progress")
    r = await client.post(consent_url(clinic, appt.id), json={"decision": "given"},
                          headers={"X-Manage-Token": appt.manage_token})  # fmt: skip
    problem(r, 409, "consent_closed")
    r = await client.post(consent_url(clinic, appt.id), json={"decision": "given"},
                          headers={"X-Manage-Token": "cbm_wrong"})  # fmt: skip
    problem(r, 404)


async def test_manage_page_form_records_consent(client: httpx.AsyncClient, clinic: Clinic) -> None:
    tenant = await set_clinic_settings(clinic.tenant, recording_allowed=True)
    appt = await video_appointment(tenant, soon())
    manage = f"/c/{clinic.slug}/manage/{appt.id}?token={quote(appt.manage_token, safe='')}"
    page = await client.get(manage)
    assert "I agree to the recording" in page.text and 'data-testid="join-video"' in page.text
    r = await client.post(
        f"/c/{clinic.slug}/video/{appt.id}/consent",
        data={"token": appt.manage_token, "decision": "given", "source": "manage"},
    )
    assert r.status_code == 303 and r.headers["location"] == manage
    page = await client.get(manage)
    assert "You agreed to the recording" in page.text and "Withdraw my consent" in page.text


async def test_daily_room_recording_follows_clinic_and_consent(
    client: httpx.AsyncClient, clinic: Clinic, fake_daily: FakeDaily, daily_settings: VideoSettings
) -> None:
    # Consent alone is not enough: the clinic must allow recording.
    tenant = await set_clinic_settings(clinic.tenant, video_provider="daily")
    appt = await video_appointment(tenant, soon() + timedelta(days=1))
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            "INSERT INTO video_recording_consents (appointment_id, decision, wording, source) "
            "VALUES ($1, 'given', 'x', 'manage')",
            appt.id,
        )
    await rooms.ensure_room(tenant, appt.id, settings=daily_settings)
    assert "enable_recording" not in fake_daily.rooms[room_name(appt.id)]["config"]
    # Allowed and consented: the room records; withdrawn: it stops.
    tenant = await set_clinic_settings(tenant, recording_allowed=True)
    await rooms.sync_recording(tenant, appt.id, settings=daily_settings)
    assert fake_daily.rooms[room_name(appt.id)]["config"]["enable_recording"] == "cloud"
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            "INSERT INTO video_recording_consents (appointment_id, decision, wording, source) "
            "VALUES ($1, 'revoked', 'x', 'join')",
            appt.id,
        )
    await rooms.sync_recording(tenant, appt.id, settings=daily_settings)
    assert "enable_recording" not in fake_daily.rooms[room_name(appt.id)]["config"]


async def test_builtin_recording_upload_needs_permission_consent_and_owner(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    from pathlib import Path

    tenant = await set_clinic_settings(clinic.tenant, recording_allowed=True)
    appt = await video_appointment(tenant, soon())
    join = await client.post(f"{clinic.api}/appointments/{appt.id}/video/join",
                             headers=clinic.headers)  # fmt: skip
    owner_token = join.json()["url"].split("token=")[1]
    upload = f"/c/{clinic.slug}/video/{appt.id}/recordings?token="
    webm = {"content-type": "video/webm;codecs=vp8,opus"}
    r = await client.post(upload + owner_token, content=b"\x1aE\xdf\xa3" * 100, headers=webm)
    problem(r, 409, "recording_not_allowed")  # no consent yet

    await client.post(consent_url(clinic, appt.id), json={"decision": "given"},
                      headers={"X-Manage-Token": appt.manage_token})  # fmt: skip
    r = await client.post(upload + quote(appt.manage_token), content=b"x" * 10, headers=webm)
    problem(r, 403, "not_room_owner")  # the patient's browser does not record
    r = await client.post(upload + owner_token, content=b"\x1aE\xdf\xa3" * 100_000, headers=webm)
    assert r.status_code == 201, r.text
    assert r.json()["bytes"] == 400_000
    async with tenant_tx(tenant) as conn:
        row = await conn.fetchrow("SELECT storage_path, bytes FROM video_recordings")
    assert Path(row["storage_path"]).stat().st_size == 400_000
    assert tenant.schema in row["storage_path"]
    Path(row["storage_path"]).unlink()
