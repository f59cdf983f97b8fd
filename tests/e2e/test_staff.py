"""The clinic's side in real Chromium: a receptionist's day, live; axe and screenshots of
every staff page on a tablet and a desktop."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from carebook.tenancy import tenant_tx
from forms import instances
from forms.instances import Filler
from notifications import service as notify
from tests.conftest import Clinic, LiveServer
from tests.e2e.browser import run_axe, serious_violations
from tests.e2e.conftest import NewPage
from tests.e2e.pages import (
    ARTIFACTS,
    DOCS,
    bookable_calendar,
    booking_url,
    clinic_day,
    fill_details,
    hold,
    local_instant,
    open_booking,
    rename_clinic,
)
from tests.web.staff.support import PASSWORD, add_member, outbox_link

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
DESKTOP = {"width": 1366, "height": 900}
LIVE = 3_000


INTAKE_FIELDS = [
    {"key": "complaint", "type": "long_text", "label": "What brings you here?", "required": True},
    {"key": "smoker", "type": "yes_no", "label": "Do you smoke?"},
]


async def require_intake(base: str, clinic: Clinic, cal: dict[str, Any]) -> None:
    """An intake form template, required by the calendar (through the staff API)."""
    async with httpx.AsyncClient(base_url=base) as api:
        r = await api.post(
            f"{clinic.api}/forms",
            headers=clinic.headers,
            json={"name": "Knee intake", "phase": "intake", "fields": INTAKE_FIELDS},
        )
        assert r.status_code == 201, r.text
        r = await api.patch(
            f"{clinic.api}/calendars/{cal['id']}",
            headers=clinic.headers,
            json={"required_form_ids": [r.json()["id"]]},
        )
        assert r.status_code == 200, r.text


async def answer_intake_and_notify(clinic: Clinic, appointment_id: str) -> None:
    """What the worker and the patient would do: the intake form (answered) and messages."""
    from datetime import UTC, datetime

    async with tenant_tx(clinic.tenant) as conn:
        await instances.generate(conn, appointment_id, "intake")
        [form] = await instances.list_instances(conn, appointment_id)
        await instances.save_answers(
            conn, appointment_id, form.id,
            {"complaint": "Left knee hurts on stairs", "smoker": False},
            Filler("patient"), datetime.now(UTC),
        )  # fmt: skip
    await notify.on_booked(clinic.tenant, appointment_id, None)


async def sign_in(page: Page, base: str, clinic: Clinic, email: str, password: str = PASSWORD):
    await page.goto(f"{base}/c/{clinic.slug}/staff/login")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/staff/agenda"))


async def api_book(base: str, clinic: Clinic, cal: dict[str, Any], start: Any, name: str) -> str:
    async with httpx.AsyncClient(base_url=base) as api:
        r = await api.post(
            f"{clinic.public}/holds",
            json={"calendar_id": str(cal["id"]), "start": start.isoformat()},
        )
        assert r.status_code == 201, r.text
        held = r.json()
        email = re.sub(r"\W", ".", name.lower()) + "@patients.test"
        r = await api.post(
            f"{clinic.public}/bookings",
            json={
                "hold_id": held["hold_id"],
                "token": held["token"],
                "patient": {
                    "name": name,
                    "email": email,
                    "timezone": "Europe/Berlin",
                    "phone": "+49 30 555 0101",
                },
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["appointment_id"])


async def test_receptionist_day_live(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    base = live_server.url
    await bookable_calendar(
        clinic,
        slug="physio",
        name="Physiotherapy",
        specialists=("Dr Ada Lovelace", "Dr Alan Turing"),
    )
    rec = await add_member(clinic, "receptionist", name="Rita Desk")
    day = clinic_day(clinic, 1)
    desk = await new_page(viewport=TABLET)
    await sign_in(desk, base, clinic, rec.email)
    await desk.goto(f"{base}/c/{clinic.slug}/staff/agenda?day={day.isoformat()}")
    await expect(desk.locator("#live-state")).to_have_text("Live updates: on")
    await expect(desk.locator(".spec-col")).to_have_count(2)

    # A patient books on the public page in another browser: it appears on the agenda, live.
    patient = await new_page()
    await open_booking(patient, booking_url(base, clinic, "physio"))
    await hold(patient, local_instant(day, "10:00", "Europe/Berlin"))
    await fill_details(patient, name="Paula Patient", email="paula@example.test")
    await patient.click("#book-button")
    await expect(patient.locator("#step-done")).to_be_visible()
    chip = desk.locator(".appt", has_text="Paula Patient")
    await expect(chip).to_have_count(1, timeout=LIVE)
    await expect(chip).to_contain_text("10:00–10:30")
    await expect(chip).to_have_class(re.compile("status-booked"))

    # Keyboard: focus the appointment, open it with Enter, cancel it with a reason.
    await chip.locator("a").focus()
    await desk.keyboard.press("Enter")
    await expect(desk.locator("[data-testid=patient-name]")).to_have_text("Paula Patient")
    await desk.fill("#reason", "Patient asked to cancel by phone")
    await desk.locator("[data-action=cancel]").click()
    await expect(desk.locator("[data-testid=appt-status]")).to_have_text("Cancelled")
    await expect(desk.locator(".history")).to_contain_text("Patient asked to cancel by phone")

    # Book a caller: slot, new patient, book.
    await desk.goto(f"{base}/c/{clinic.slug}/staff/book?day={day.isoformat()}")
    await desk.locator(".slot-choice", has_text="11:00").first.click()
    await desk.fill("#p-name", "Carl Caller")
    await desk.fill("#p-email", "carl@example.test")
    await desk.get_by_role("button", name="Book").click()
    await expect(desk.locator("[data-testid=patient-name]")).to_have_text("Carl Caller")
    # … and reschedule it to 15:00 with the slot picker.
    await desk.locator("[data-action=reschedule]").click()
    await desk.locator(".slot-choice", has_text="15:00").first.click()
    await desk.get_by_role("button", name="Move the appointment").click()
    await expect(desk.locator(".facts").first).to_contain_text("15:00–15:30")
    await expect(desk.locator(".history")).to_contain_text("rescheduled")
    await desk.goto(f"{base}/c/{clinic.slug}/staff/agenda?day={day.isoformat()}")
    await expect(desk.locator(".appt", has_text="Carl Caller")).to_contain_text("15:00–15:30")
    assert not desk.js_errors, desk.js_errors  # type: ignore[attr-defined]


async def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if os.environ.get("CAREBOOK_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / path.name)


async def lindenhof_physio(
    base: str, clinic: Clinic, specialists: tuple[str, ...]
) -> tuple[dict[str, Any], date]:
    """The screenshots' clinic: Lindenhof, a physiotherapy calendar with an intake form."""
    await rename_clinic(clinic, "Lindenhof Clinic")
    cal = await bookable_calendar(
        clinic, slug="physio", name="Physiotherapy", specialists=specialists
    )
    await require_intake(base, clinic, cal)
    return cal, clinic_day(clinic, 1)


async def check(page: Page, name: str, viewport: str) -> None:
    violations = serious_violations(await run_axe(page))
    assert not violations, (name, [(v["id"], v["nodes"][0]["target"]) for v in violations])
    await shoot(page, f"staff-{name}-{viewport}")


async def test_every_staff_page_is_axe_clean_on_tablet_and_desktop(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    base = live_server.url
    cal, day = await lindenhof_physio(
        base, clinic, ("Dr Ada Lovelace", "Dr Alan Turing", "Dr Grace Hopper")
    )
    ids = []
    for hhmm, name in (
        ("09:00", "Marie Curie"),
        ("10:30", "Niels Bohr"),
        ("11:00", "Lise Meitner"),
        ("14:00", "Max Planck"),
        ("09:30", "Emmy Noether"),
        ("13:00", "Erwin Schrödinger"),
    ):
        ids.append(
            await api_book(base, clinic, cal, local_instant(day, hhmm, "Europe/Berlin"), name)
        )
    await answer_intake_and_notify(clinic, ids[0])
    admin = await add_member(clinic, "admin", name="Anna Admin")
    invite_link = await outbox_link(clinic, f"admin@{clinic.slug}.test")
    for viewport_name, viewport in (("tablet", TABLET), ("desktop", DESKTOP)):
        page = await new_page(viewport=viewport)
        await page.goto(f"{base}/c/{clinic.slug}/staff/login")
        await check(page, "login", viewport_name)
        await page.goto(f"{base}/c/{clinic.slug}/staff/password/forgot")
        await check(page, "forgot-password", viewport_name)
        await page.goto(base + "/c/" + invite_link.split("/c/", 1)[1])
        await check(page, "set-password", viewport_name)
        await sign_in(page, base, clinic, admin.email)
        pages = {
            "agenda-day": f"/agenda?day={day.isoformat()}",
            "agenda-week": f"/agenda?view=week&day={day.isoformat()}",
            "appointment": f"/appointments/{ids[0]}",
            "reschedule": f"/appointments/{ids[0]}/reschedule",
            "book": f"/book?day={day.isoformat()}",
            "patients": "/patients?q=e",
            "team": "/team",
            "availability": "/availability",
            "catalog": "/catalog/",
            "catalog-calendar": f"/catalog/calendars/{cal['id']}",
            "settings": "/settings/",
        }
        for name, path in pages.items():
            await page.goto(f"{base}/c/{clinic.slug}/staff{path}")
            if name.startswith("agenda"):
                await expect(page.locator("#live-state")).to_have_text("Live updates: on")
            await check(page, name, viewport_name)
        await page.goto(f"{base}/c/{clinic.slug}/staff/patients?q=Curie")
        await page.get_by_role("link", name="Marie Curie").click()
        await expect(page.locator("[data-testid=access-log]")).to_be_visible()
        await expect(page.locator("[data-testid=patient-forms]")).to_contain_text("Left knee")
        await expect(page.locator("[data-testid=patient-messages]")).to_be_visible()
        await check(page, "patient", viewport_name)
        # axe's own injection tries an inline script first (refused by our CSP, as it should).
        errors = [e for e in page.js_errors if "Executing inline script" not in e]  # type: ignore[attr-defined]
        assert not errors, errors


async def test_changed_pages_on_a_phone(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    """The week grid, the patient's record and the calendar form at phone width: axe-clean."""
    base = live_server.url
    cal, day = await lindenhof_physio(base, clinic, ("Dr Ada Lovelace", "Dr Alan Turing"))
    first = await api_book(
        base, clinic, cal, local_instant(day, "09:00", "Europe/Berlin"), "Marie Curie"
    )
    await api_book(base, clinic, cal, local_instant(day, "10:00", "Europe/Berlin"), "Niels Bohr")
    await answer_intake_and_notify(clinic, first)
    admin = await add_member(clinic, "admin", name="Anna Admin")
    page = await new_page(viewport=PHONE)
    await sign_in(page, base, clinic, admin.email)
    await page.goto(f"{base}/c/{clinic.slug}/staff/agenda?view=week&day={day.isoformat()}")
    await expect(page.locator("#live-state")).to_have_text("Live updates: on")
    cell = page.locator("a[data-cell]", has_text="09:00–")  # Marie Curie's day and specialist
    await expect(cell).to_have_count(1)
    await expect(cell).to_contain_text("booked")
    await check(page, "agenda-week", "phone")
    await cell.focus()  # keyboard: Enter opens that day, with the appointments listed
    await page.keyboard.press("Enter")
    await expect(page.locator(".appt", has_text="Marie Curie")).to_have_count(1)
    await page.goto(f"{base}/c/{clinic.slug}/staff/patients?q=Curie")
    await page.get_by_role("link", name="Marie Curie").click()
    await expect(page.locator("[data-testid=patient-forms]")).to_contain_text("Left knee")
    await check(page, "patient", "phone")
    await page.goto(f"{base}/c/{clinic.slug}/staff/catalog/calendars/{cal['id']}")
    await check(page, "catalog-calendar", "phone")
    errors = [e for e in page.js_errors if "Executing inline script" not in e]  # type: ignore[attr-defined]
    assert not errors, errors


async def test_week_view_updates_live_and_moves_by_keyboard(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    base = live_server.url
    cal = await bookable_calendar(
        clinic, slug="physio", specialists=("Dr Ada Lovelace", "Dr Alan Turing")
    )
    day = clinic_day(clinic, 1)
    await api_book(base, clinic, cal, local_instant(day, "09:00", "Europe/Berlin"), "Week One")
    rec = await add_member(clinic, "receptionist")
    page = await new_page(viewport=DESKTOP)
    await sign_in(page, base, clinic, rec.email)
    await page.goto(f"{base}/c/{clinic.slug}/staff/agenda?view=week&day={day.isoformat()}")
    await expect(page.locator("#live-state")).to_have_text("Live updates: on")
    cells = page.locator("a[data-cell]")
    await expect(cells).to_have_count(1)
    await expect(cells.first).to_contain_text("1 appointment")
    # A booking elsewhere: the grid follows without a reload, the focus stays on the cell.
    await cells.first.focus()
    await api_book(base, clinic, cal, local_instant(day, "11:00", "Europe/Berlin"), "Week Two")
    grid = page.locator("[data-testid=agenda-grid]")
    await expect(grid).to_have_attribute("data-count", "2", timeout=LIVE)
    await expect(page.locator("#agenda-announce")).to_contain_text("2 appointments")
    assert await page.evaluate("'cell' in document.activeElement.dataset")
    # Enter opens that specialist's day with the appointments listed.
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"view=day.*#h-"))
    await expect(page.locator(".appt", has_text="Week One")).to_have_count(1)
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


async def test_admin_from_the_invitation_to_a_schedule_that_changes_the_public_page(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    base = live_server.url
    await bookable_calendar(clinic, slug="physio", specialists=("Dr Ada Lovelace",))
    email = f"admin@{clinic.slug}.test"
    # The onboarding e-mail's link: choose a password, then sign in with it.
    link = await outbox_link(clinic, email)
    admin = await new_page(viewport=DESKTOP)
    await admin.goto(base + "/c/" + link.split("/c/", 1)[1])
    await admin.fill("#password", "admin password 1")
    await admin.fill("#password2", "admin password 1")
    await admin.get_by_role("button", name="Save password").click()
    await expect(admin.locator(".notice")).to_contain_text("Password saved")
    await sign_in(admin, base, clinic, email, "admin password 1")

    # A patient has the booking page open; the admin narrows Monday-Sunday to the mornings.
    patient = await new_page()
    await open_booking(patient, booking_url(base, clinic, "physio"))
    day = clinic_day(clinic, 1)
    afternoon = local_instant(day, "14:00", "Europe/Berlin")
    from tests.e2e.pages import slot as public_slot

    await expect(public_slot(patient, afternoon)).to_have_count(1)
    await admin.goto(f"{base}/c/{clinic.slug}/staff/availability")
    for d in range(1, 8):
        await admin.fill(f"#day{d}", "09:00-12:00")
    await admin.get_by_role("button", name="Save weekly hours").click()
    await expect(admin.locator("[data-testid=saved]")).to_be_visible()
    await expect(public_slot(patient, afternoon)).to_have_count(0, timeout=LIVE)
    await expect(public_slot(patient, local_instant(day, "09:00", "Europe/Berlin"))).to_have_count(
        1
    )

    # Forgot password: the reset e-mail's link works once.
    await admin.get_by_role("button", name="Sign out").click()
    await admin.get_by_role("link", name="Forgot your password?").click()
    await admin.fill("#email", email)
    await admin.get_by_role("button", name="Send me a link").click()
    await expect(admin.locator("[data-testid=reset-sent]")).to_be_visible()
    reset = await outbox_link(clinic, email)
    assert reset != link
    await admin.goto(base + "/c/" + reset.split("/c/", 1)[1])
    await admin.fill("#password", "second password 2")
    await admin.fill("#password2", "second password 2")
    await admin.get_by_role("button", name="Save password").click()
    await sign_in(admin, base, clinic, email, "second password 2")


async def test_keyboard_only_sign_in_and_agenda(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    base = live_server.url
    cal = await bookable_calendar(clinic, slug="physio", specialists=("Dr A",))
    day = clinic_day(clinic, 1)
    for hhmm in ("09:00", "10:00"):
        await api_book(
            base, clinic, cal, local_instant(day, hhmm, "Europe/Berlin"), f"Key Patient {hhmm[:2]}"
        )
    rec = await add_member(clinic, "receptionist")
    page = await new_page(viewport=TABLET)
    await page.goto(f"{base}/c/{clinic.slug}/staff/agenda?day={day.isoformat()}")
    await expect(page).to_have_url(re.compile(r"/staff/login\?next="))
    await page.keyboard.press("Tab")  # skip link
    await page.keyboard.press("Tab")  # clinic name
    await page.keyboard.press("Tab")
    await expect(page.locator("#email")).to_be_focused()
    await page.keyboard.type(rec.email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(rf"/staff/agenda\?day={day.isoformat()}"))
    first = page.locator(".appt a", has_text="Key Patient 09")
    await first.focus()
    await page.keyboard.press("ArrowDown")  # same column, next appointment
    focused = await page.evaluate("document.activeElement.textContent")
    assert "Key Patient 10" in focused
    await page.keyboard.press("Enter")
    await expect(page.locator("[data-testid=patient-name]")).to_contain_text("Key Patient")
    await page.go_back()
    await page.keyboard.press("n")  # next day, from the keyboard
    await expect(page).to_have_url(re.compile(r"day=\d{4}-\d{2}-\d{2}"))
    assert f"day={day.isoformat()}" not in page.url
