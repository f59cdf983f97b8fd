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


async def test_booking_page_scripts_speak_german(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    """The strings and dates the booking page's JavaScript writes come from the German
    catalog for a German browser (slot board, empty day, hold announcement, held time)."""
    from tests.e2e.pages import clinic_day, hold, local_instant, open_booking
    from tests.factories import add_calendar, add_specialist

    free = clinic_day(clinic, 1)
    empty = clinic_day(clinic, 2)  # the specialist does not work that weekday
    weekly = {d: [("09:00", "17:00")] for d in range(1, 8) if d != empty.isoweekday()}
    sid = await add_specialist(clinic.tenant, name="Dr Weber", weekly=weekly)
    await add_calendar(clinic.tenant, [sid], name="Beratung", slug="beratung")

    page = await new_page(locale="de-DE")
    await open_booking(page, f"{live_server.url}/c/{clinic.slug}/book/beratung")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    tab = page.locator(f"#tab-{empty.isoformat()}")
    await expect(tab.locator(".visually-hidden")).to_contain_text("keine freien Termine")
    await tab.click()
    await expect(page.locator(f"#panel-{empty.isoformat()} p.none")).to_have_text(
        "An diesem Tag gibt es keine freien Termine."
    )
    weekday = GERMAN_WEEKDAYS[empty.weekday()]
    await expect(page.locator(f"#day-{empty.isoformat()}")).to_have_text(
        f"{weekday}, {empty.day}. {GERMAN_MONTHS[empty.month - 1]}"
    )
    free_tab = page.locator(f"#tab-{free.isoformat()}")
    await expect(free_tab.locator(".visually-hidden")).to_contain_text("freie Termine")

    start = local_instant(free, "10:00", "Europe/Berlin")
    await hold(page, start)
    await expect(page.locator("#status")).to_contain_text(
        "ist 10 Minuten für Sie reserviert. Bitte geben Sie Ihre Daten ein."
    )
    await expect(page.locator("#held-slot")).to_contain_text(
        f"{free.day}. {GERMAN_MONTHS[free.month - 1]} {free.year}, 10:00–10:30"
    )
    await expect(page.locator("#held-slot")).to_contain_text("bei Dr Weber")
    # A form error written by the script.
    await page.click("#book-button")
    await expect(page.locator("#name-error")).to_have_text("Bitte geben Sie Ihren Namen ein.")
    assert page.js_errors == []  # type: ignore[attr-defined]

    # An English browser that chose German (?lang=de) gets German dates too.
    page = await new_page(locale="en-GB")
    await open_booking(page, f"{live_server.url}/c/{clinic.slug}/book/beratung?lang=de")
    short = ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"][free.weekday()]
    await expect(page.locator(f"#tab-{free.isoformat()} .dow")).to_have_text(
        re.compile(rf"^{short}\.?$")
    )
    await expect(page.locator(f"#tab-{empty.isoformat()} .visually-hidden")).to_contain_text(
        f"{GERMAN_WEEKDAYS[empty.weekday()]}, {empty.day}. {GERMAN_MONTHS[empty.month - 1]}"
    )


GERMAN_WEEKDAYS = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag",
                   "Sonntag"]  # fmt: skip
GERMAN_MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
                 "September", "Oktober", "November", "Dezember"]  # fmt: skip
