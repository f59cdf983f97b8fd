"""Languages: pages and messages in English and German (Babel catalogs), chosen from the
patient's choice, else Accept-Language, else the clinic's default."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from carebook import i18n
from notifications import service
from tests.conftest import Clinic
from tests.notifications.conftest import Inbox, book_one, fresh_client, set_clinic_settings

DE = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


def test_choice_order() -> None:
    assert i18n.available_languages() == ("de", "en")
    assert i18n.choose("de", "en", "en") == "de"  # the patient's choice first
    assert i18n.choose(None, "fr-CH, de;q=0.8, en;q=0.5", "en") == "de"  # then the browser
    assert i18n.choose(None, "fr, it", "de") == "de"  # then the clinic's default
    assert i18n.choose("xx", None, None) == "en"


async def test_german_browser_gets_german_pages(client: httpx.AsyncClient, clinic: Clinic) -> None:
    page = await client.get(f"/c/{clinic.slug}/", headers=DE)
    assert '<html lang="de">' in page.text
    assert "Termin buchen" in page.text and "Link per E-Mail senden" in page.text
    english = await client.get(f"/c/{clinic.slug}/")
    assert '<html lang="en">' in english.text and "Book an appointment" in english.text


async def test_clinic_default_language_applies_without_a_preference(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    await set_clinic_settings(clinic.slug, default_language="de")
    page = await client.get(f"/c/{clinic.slug}/", headers={"Accept-Language": "fr"})
    assert '<html lang="de">' in page.text


async def test_language_switch_remembers_the_choice(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    async with fresh_client(client) as browser:
        home = f"/c/{clinic.slug}"
        r = await browser.get(f"{home}/language/de", params={"next": f"{home}/"})
        assert r.status_code == 303 and r.headers["location"] == f"{home}/"
        page = await browser.get(f"{home}/", headers={"Accept-Language": "en"})
        assert '<html lang="de">' in page.text  # the choice beats the browser's header
        # Only this site's pages are followed: anything else goes to the clinic's page.
        r = await browser.get(f"{home}/language/en", params={"next": "https://evil.test/"})
        assert r.headers["location"] == home
        r = await browser.get(f"{home}/language/en", params={"next": f"/c/{clinic.slug}x/"})
        assert r.headers["location"] == home


async def test_german_patient_gets_german_messages_and_pages(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    client.headers.update(DE)
    try:
        booked = await book_one(client, clinic.tenant, email_addr="anna@example.test")
    finally:
        del client.headers["Accept-Language"]
    await service.on_booked(clinic.tenant, booked.appointment_id, None)
    [mail] = smtp.to("anna@example.test")
    assert mail["Subject"].startswith(f"Ihr Termin bei {clinic.tenant.name} ist gebucht")
    text = mail.get_body(("plain",)).get_content()
    assert "Guten Tag Pat Example," in text and "Uhrzeit: 10:00" in text
    html = mail.get_body(("html",)).get_content()
    assert '<html lang="de">' in html and "Termin ansehen oder ändern" in html
    # The specialist gets the clinic's default language (English here).
    [to_specialist] = smtp.to(booked.specialist_email)
    assert to_specialist["Subject"].startswith("New appointment")
    # The manage page from the e-mail, in a German browser: German date.
    link = next(w for w in text.split() if "/manage/" in w)
    url = urlsplit(link)
    page = await client.get(f"{url.path}?{url.query}", headers=DE)
    assert '<html lang="de">' in page.text and "Ihr Termin" in page.text
    weekdays = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
    assert any(day in page.text for day in weekdays)


async def test_the_language_is_recorded_with_the_booking_only(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    """Recorded in the booking's transaction: a refused booking records nothing."""
    from carebook.tenancy import tenant_tx
    from tests.bookings.support import bookable, booking_body, idem, place_hold, slot

    setup = await bookable(clinic.tenant)
    public = f"/api/v1/clinics/{clinic.slug}/public"
    hold = await place_hold(client, public, setup, slot(clinic.tenant, days=2, hour=10))

    async def language_of(email: str) -> str | None:
        async with tenant_tx(clinic.tenant) as conn:
            found: str | None = await conn.fetchval(
                "SELECT language FROM patient_preferences WHERE email_key = $1", email
            )
        return found

    refused = booking_body(hold, email="Lena@Example.test")
    refused["token"] = "cbh_not-the-token"
    r = await client.post(f"{public}/bookings", json=refused, headers=idem() | DE)
    assert r.status_code in (401, 403, 404, 409, 422), r.text
    assert await language_of("lena@example.test") is None
    r = await client.post(f"{public}/bookings", json=booking_body(hold, email="Lena@Example.test"),
                          headers=idem() | DE)  # fmt: skip
    assert r.status_code == 201, r.text
    assert await language_of("lena@example.test") == "de"
