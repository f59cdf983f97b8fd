"""The built-in video room in two real browsers with fake camera and microphone.

Patient and specialist load the room from two different app processes, so signalling also
crosses processes (Redis pub/sub), as behind a load balancer. Media flows peer-to-peer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import Clinic, LiveServer
from tests.e2e.browser import LAUNCH_ARGS, chromium_path, run_axe, serious_violations
from tests.e2e.pages import screenshot
from tests.video.support import video_appointment

pytestmark = pytest.mark.e2e

MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]

CONNECTED = "() => window.carebookVideo && window.carebookVideo.pc && " \
    "window.carebookVideo.pc.connectionState === 'connected'"  # fmt: skip
RECEIVING = """async () => {
  const pc = window.carebookVideo && window.carebookVideo.pc;
  if (!pc) return false;
  const stats = await pc.getStats();
  let audio = 0, video = 0;
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') audio += s.bytesReceived || 0;
    if (s.type === 'inbound-rtp' && s.kind === 'video') video += s.bytesReceived || 0;
  });
  return audio > 0 && video > 0;
}"""


@pytest.fixture(scope="module")
async def media_browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=chromium_path(), args=[*LAUNCH_ARGS, *MEDIA_ARGS]
        )
        yield chromium
        await chromium.close()


async def open_in_context(browser: Browser, url: str, **options: object) -> Page:
    context = await browser.new_context(
        viewport={"width": 1024, "height": 768},
        locale="en-GB",
        **options,  # type: ignore[arg-type]
    )
    context.set_default_timeout(15_000)
    page = await context.new_page()
    await page.goto(url)
    return page


async def test_patient_and_specialist_talk_peer_to_peer(
    live_server: LiveServer, live_server_b: LiveServer, clinic: Clinic, media_browser: Browser
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=5)
    appt = await video_appointment(clinic.tenant, start)
    async with httpx.AsyncClient(base_url=live_server_b.url) as api:
        r = await api.post(
            f"{clinic.api}/appointments/{appt.id}/video/join", headers=clinic.headers
        )
        assert r.status_code == 200, r.text
        join_path = r.json()["url"]
    patient_url = f"{live_server.url}/c/{clinic.slug}/video/{appt.id}?token=" + quote(
        appt.manage_token, safe=""
    )
    patient = await open_in_context(media_browser, patient_url, timezone_id="Europe/Berlin")
    doctor = await open_in_context(media_browser, live_server_b.url + join_path)
    try:
        for p in (patient, doctor):
            await p.wait_for_function(CONNECTED, timeout=20_000)
        for p in (patient, doctor):
            await p.wait_for_function(RECEIVING, timeout=20_000, polling=250)
            await expect(p.locator("#video-status")).to_have_text("Connected.")
        assert not serious_violations(await run_axe(doctor))
        await screenshot(patient, "8-video-room")

        # Mute and camera toggles say what they do.
        await patient.click("#toggle-mic")
        await expect(patient.locator("#toggle-mic")).to_have_attribute("aria-pressed", "true")
        await expect(patient.locator("#toggle-mic")).to_have_text("Unmute microphone")
        assert await patient.evaluate(
            "() => window.carebookVideo.pc.getSenders().find(s => s.track && "
            "s.track.kind === 'audio').track.enabled === false"
        )
        await patient.click("#toggle-camera")
        await expect(patient.locator("#toggle-camera")).to_have_text("Turn camera on")
        # No recording control without clinic permission and consent.
        await expect(doctor.locator("#toggle-recording")).to_have_count(0)

        # A third person with a wrong token is refused.
        intruder = await open_in_context(
            media_browser, f"{live_server.url}/c/{clinic.slug}/video/{appt.id}?token=cbm_guess"
        )
        await expect(intruder.locator("h1")).not_to_have_text("Video consultation")
        await expect(intruder.locator("video")).to_have_count(0)
        await intruder.context.close()

        # The patient leaves: the specialist is told.
        await patient.click("#leave")
        await expect(patient.locator("#left-message")).to_be_visible()
        await expect(doctor.locator("#remote-name")).to_contain_text("left")
    finally:
        await patient.context.close()
        await doctor.context.close()


async def test_before_the_window_the_page_says_when_it_opens(
    live_server: LiveServer, clinic: Clinic, media_browser: Browser
) -> None:
    zone = ZoneInfo("Europe/Berlin")
    day = (datetime.now(zone) + timedelta(days=1)).date()
    appt = await video_appointment(
        clinic.tenant, datetime(day.year, day.month, day.day, 15, 0, tzinfo=zone)
    )
    page = await open_in_context(
        media_browser,
        f"{live_server.url}/c/{clinic.slug}/video/{appt.id}?token="
        + quote(appt.manage_token, safe=""),
    )
    try:
        await expect(page.get_by_test_id("video-opens")).to_contain_text("opens at 14:45 your time")
        await expect(page.locator("video")).to_have_count(0)
    finally:
        await page.context.close()


async def test_expired_token_is_refused(
    live_server: LiveServer, clinic: Clinic, media_browser: Browser
) -> None:
    from video.builtin import TokenClaims, issue_token
    from video.providers import room_name

    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=5)
    appt = await video_appointment(clinic.tenant, start)
    past = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())
    token = issue_token(TokenClaims(room_name(appt.id), True, "Dr Vid", past - 3600, past))
    page = await open_in_context(
        media_browser, f"{live_server.url}/c/{clinic.slug}/video/{appt.id}?token={token}"
    )
    try:
        await expect(page.locator("main")).to_contain_text("expired")
        await expect(page.locator("video")).to_have_count(0)
    finally:
        await page.context.close()


async def test_patient_consents_on_the_manage_page_by_keyboard(
    live_server: LiveServer, clinic: Clinic, new_page: Any
) -> None:
    from tests.video.support import set_clinic_settings

    tenant = await set_clinic_settings(clinic.tenant, recording_allowed=True)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2)
    appt = await video_appointment(tenant, start)
    page = await new_page()  # phone size
    await page.goto(
        f"{live_server.url}/c/{clinic.slug}/manage/{appt.id}?token="
        + quote(appt.manage_token, safe="")
    )
    section = page.get_by_test_id("video-section")
    await expect(section.get_by_test_id("join-video")).to_be_visible()
    await expect(section).to_contain_text("The room opens at")
    agree = section.get_by_role("button", name="I agree to the recording")
    await agree.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("consent-state")).to_contain_text("You agreed")
    assert not serious_violations(await run_axe(page))
    await screenshot(page, "9-manage-video-consent")
    await page.get_by_role("button", name="Withdraw my consent").click()
    await expect(page.get_by_test_id("consent-state")).to_contain_text("You said no")


async def test_specialist_records_only_with_consent_and_the_upload_lands(
    live_server: LiveServer, clinic: Clinic, media_browser: Browser
) -> None:
    from pathlib import Path

    from carebook.tenancy import tenant_tx
    from tests.conftest import wait_for
    from tests.video.support import set_clinic_settings

    tenant = await set_clinic_settings(clinic.tenant, recording_allowed=True)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=5)
    appt = await video_appointment(tenant, start)
    async with httpx.AsyncClient(base_url=live_server.url) as api:
        r = await api.post(
            f"{clinic.public}/appointments/{appt.id}/video/consent",
            json={"decision": "given", "source": "join"},
            headers={"X-Manage-Token": appt.manage_token},
        )
        assert r.status_code == 200, r.text
        join_path = (
            await api.post(
                f"{clinic.api}/appointments/{appt.id}/video/join", headers=clinic.headers
            )
        ).json()["url"]
    patient = await open_in_context(
        media_browser,
        f"{live_server.url}/c/{clinic.slug}/video/{appt.id}?token="
        + quote(appt.manage_token, safe=""),
    )
    doctor = await open_in_context(media_browser, live_server.url + join_path)
    try:
        await expect(patient.locator("#toggle-recording")).to_have_count(0)
        await doctor.wait_for_function(RECEIVING, timeout=20_000, polling=250)
        # Recording needs the other side's stream on the page, not just bytes on the wire.
        await doctor.wait_for_function(
            "() => !!document.getElementById('remote-video').srcObject", timeout=20_000
        )
        record = doctor.locator("#toggle-recording")
        await record.click()
        await expect(record).to_have_attribute("aria-pressed", "true", timeout=10_000)
        # The recorder hands over its first chunk after a second of call.
        await doctor.wait_for_function("() => window.carebookVideo.recordedBytes > 0")
        await record.click()
        await expect(doctor.locator("#video-status")).to_have_text(
            "Recording saved to the clinic's records."
        )

        async def stored() -> object:
            async with tenant_tx(tenant) as conn:
                return await conn.fetchrow("SELECT storage_path, bytes FROM video_recordings")

        row = await wait_for(stored)
        assert row["bytes"] > 1000  # type: ignore[index]
        Path(row["storage_path"]).unlink()  # type: ignore[index]
    finally:
        await patient.context.close()
        await doctor.context.close()
