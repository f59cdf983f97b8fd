"""A German browser gets German pages; the manage page opened from the e-mail's link; the
magic-link pages pass axe on a phone."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import expect

from notifications import magic, service
from tests.conftest import Clinic, LiveServer
from tests.e2e.conftest import NewPage
from tests.e2e.test_accessibility import audit
from tests.notifications.conftest import Inbox, book_one, set_clinic_settings
from tests.notifications.conftest import smtp as smtp  # the fixture

pytestmark = pytest.mark.e2e


async def test_german_browser_and_the_emailed_manage_link(
    live_server: LiveServer, client: httpx.AsyncClient, clinic: Clinic, new_page: NewPage,
    smtp: Inbox,
) -> None:  # fmt: skip
    await set_clinic_settings(clinic.slug, address="Hauptstraße 1, 10115 Berlin")
    client.headers["Accept-Language"] = "de-DE"
    try:
        booked = await book_one(client, clinic.tenant, email_addr="lena@example.test")
    finally:
        del client.headers["Accept-Language"]
    await service.on_booked(clinic.tenant, booked.appointment_id, None)
    [mail] = smtp.to("lena@example.test")
    text = mail.get_body(("plain",)).get_content()
    link = urlsplit(next(w for w in text.split() if "/manage/" in w))

    page = await new_page(locale="de-DE")
    await page.goto(f"{live_server.url}/c/{clinic.slug}/")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.locator("h1")).to_have_text("Termin buchen")
    await expect(page.locator("[data-testid=clinic-contact]")).to_contain_text("Hauptstraße 1")

    await page.goto(f"{live_server.url}{link.path}?{link.query}")
    await expect(page.locator("h1")).to_have_text("Ihr Termin")
    await expect(page.locator("[data-testid=date]")).to_contain_text(
        re.compile("Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag")
    )
    # The language switch: English from now on, although the browser asks for German.
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("h1")).to_have_text("Your appointment")


async def test_magic_link_pages_pass_axe(
    live_server: LiveServer, client: httpx.AsyncClient, clinic: Clinic, new_page: NewPage,
    smtp: Inbox,
) -> None:  # fmt: skip
    await book_one(client, clinic.tenant, email_addr="sam@example.test")
    page = await new_page()
    await page.goto(f"{live_server.url}/c/{clinic.slug}/")
    await page.get_by_label("Your e-mail address").fill("sam@example.test")
    await page.get_by_role("button", name="E-mail me a link").click()
    await expect(page.locator("h1")).to_have_text("Check your e-mail")
    findings = await audit(page, "8-sign-in-sent")

    from carebook.tenancy import tenant_tx

    async with tenant_tx(clinic.tenant) as conn:
        link_id = await conn.fetchval("SELECT id FROM magic_links ORDER BY created_at DESC")
    await page.goto(f"{live_server.url}/c/{clinic.slug}/sign-in/"
                    f"{magic.link_token(clinic.tenant, link_id)}")  # fmt: skip
    await page.get_by_role("button", name="See my appointments").click()
    await expect(page.locator("h1")).to_have_text("Your appointments")
    await expect(page.locator("[data-testid=my-appointments] li")).to_have_count(1)
    findings += await audit(page, "9-my-appointments")
    await page.get_by_role("link", name=re.compile("^Manage")).click()
    await expect(page.locator("h1")).to_have_text("Your appointment")
    assert findings == []
