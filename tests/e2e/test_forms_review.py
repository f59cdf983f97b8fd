"""On a phone: the patient fills an intake form (saved per field, the server's messages next
to the fields) and, after the visit, leaves a review; every page axe-clean."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.bookings.lifecycle_support import move_to
from tests.conftest import Clinic, LiveServer
from tests.e2e.browser import run_axe, serious_violations
from tests.e2e.conftest import NewPage
from tests.e2e.pages import screenshot
from tests.forms.support import book, create_form
from tests.forms.test_instances import generate

pytestmark = pytest.mark.e2e

FIELDS = [
    {"key": "full_name", "type": "text", "label": "Full name", "required": True},
    {"key": "weight", "type": "number", "label": "Weight (kg)", "min": 1, "max": 400,
     "help": "Roughly is fine"},
    {"key": "birth_date", "type": "date", "label": "Date of birth"},
    {"key": "side", "type": "single_choice", "label": "Which knee?", "options": ["Left", "Right"]},
    {"key": "symptoms", "type": "multiple_choice", "label": "Symptoms",
     "options": ["Pain", "Swelling"]},
    {"key": "smoker", "type": "yes_no", "label": "Do you smoke?", "required": True},
    {"key": "consent", "type": "consent", "label": "I agree to the treatment.", "required": True},
]  # fmt: skip


def page_errors(page: Page) -> list[str]:
    """The page's own errors, less the expected ones: axe's injection as an inline script is
    refused by the CSP (axe is then evaluated instead), and the wrong weight's 422."""
    errors: list[str] = page.js_errors  # type: ignore[attr-defined]
    expected = ("Executing inline script violates", "status of 422")
    return [e for e in errors if not any(x in e for x in expected)]


async def axe_clean(page: Page) -> None:
    assert serious_violations(await run_axe(page)) == []


async def test_patient_fills_intake_and_reviews_on_a_phone(
    client: httpx.AsyncClient, clinic: Clinic, live_server: LiveServer, new_page: NewPage
) -> None:
    form = await create_form(client, clinic, "Health questionnaire", fields=FIELDS)
    booked = await book(client, clinic, form_ids=[form["id"]], days=3)
    await generate(clinic.tenant, booked.appointment_id)
    manage = (f"{live_server.url}/c/{clinic.slug}/manage/{booked.appointment_id}"
              f"?token={quote(booked.token, safe='')}")  # fmt: skip
    page = await new_page()
    await page.goto(manage)
    await axe_clean(page)
    await page.get_by_role("link", name="Fill in Health questionnaire").click()
    await expect(page.get_by_role("heading", name="Health questionnaire")).to_be_visible()

    # Saved per field: a wrong value gets the server's message next to it, then is fixed.
    weight = page.get_by_label("Weight (kg)")
    await weight.fill("900")
    await weight.blur()
    await expect(page.locator("#status-weight")).to_have_text("Enter a number of at most 400.")
    await expect(weight).to_have_attribute("aria-invalid", "true")
    await axe_clean(page)
    await weight.fill("72,5")
    await weight.blur()
    await expect(page.locator("#status-weight")).to_have_text("Saved")
    name = page.get_by_role("textbox", name="Full name (required)")
    await name.fill("Pat Example")
    await name.blur()
    await expect(page.locator("#status-full_name")).to_have_text("Saved")
    await page.get_by_label("Left").check()
    await expect(page.locator("#status-side")).to_have_text("Saved")
    await page.get_by_label("Swelling").check()
    await page.get_by_label("No", exact=True).check()
    await expect(page.locator("#status-smoker")).to_have_text("Saved")
    await page.get_by_label("I agree", exact=True).check()
    await page.get_by_label("Your full name, as signature").fill("Pat Example")
    await page.get_by_label("Your full name, as signature").blur()
    await expect(page.locator("#status-consent")).to_have_text("Saved")
    await screenshot(page, "8-intake-form")
    await page.get_by_role("button", name="Submit form").click()
    await expect(page.get_by_role("heading", name="Your appointment")).to_be_visible()
    await expect(page.get_by_test_id("forms")).to_contain_text("Submitted")
    assert page_errors(page) == []

    # After the visit: the review.
    await move_to(client, clinic, booked.appointment_id, "done")
    await page.goto(manage)
    await page.get_by_label("4 – Good").check()
    await page.get_by_label("Comment").fill("Friendly and on time.")
    await axe_clean(page)
    await page.get_by_role("button", name="Send review").click()
    await expect(page.get_by_text("Thank you for your review!")).to_be_visible()
    await expect(page.get_by_test_id("your-rating")).to_contain_text("4 out of 5")
    await axe_clean(page)
    await screenshot(page, "9-review")
    assert page_errors(page) == []
