"""Builders for the forms tests: templates of every field type and booked appointments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.bookings.support import Setup, bookable, booking_body, idem, place_hold, slot
from tests.conftest import Clinic

EVERY_TYPE: list[dict[str, Any]] = [
    {"key": "full_name", "type": "text", "label": "Full name", "required": True},
    {"key": "history", "type": "long_text", "label": "Medical history", "help": "Operations"},
    {"key": "weight", "type": "number", "label": "Weight (kg)", "min": 1, "max": 400},
    {"key": "birth_date", "type": "date", "label": "Date of birth", "required": True},
    {"key": "side", "type": "single_choice", "label": "Which knee?", "options": ["Left", "Right"]},
    {"key": "symptoms", "type": "multiple_choice", "label": "Symptoms",
     "options": ["Pain", "Swelling", "Stiffness"]},
    {"key": "smoker", "type": "yes_no", "label": "Do you smoke?", "required": True},
    {"key": "consent", "type": "consent", "label": "I agree to the treatment.", "required": True},
]  # fmt: skip

VALID_ANSWERS: dict[str, Any] = {
    "full_name": "Pat Example",
    "history": "Knee surgery 2019",
    "weight": 72.5,
    "birth_date": "1980-02-29",
    "side": "Left",
    "symptoms": ["Swelling", "Pain"],
    "smoker": False,
    "consent": {"agreed": True, "name": "Pat Example"},
}


async def create_form(
    client: httpx.AsyncClient,
    clinic: Clinic,
    name: str = "Intake",
    phase: str = "intake",
    fields: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    r = await client.post(
        f"{clinic.api}/forms",
        headers=clinic.headers,
        json={"name": name, "phase": phase, "fields": fields or EVERY_TYPE},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


@dataclass
class Booked:
    setup: Setup
    appointment_id: str
    token: str

    @property
    def manage(self) -> dict[str, str]:
        return {"X-Manage-Token": self.token}


async def require_forms(
    client: httpx.AsyncClient, clinic: Clinic, setup: Setup, form_ids: list[str]
) -> httpx.Response:
    return await client.patch(
        f"{clinic.api}/calendars/{setup.calendar_id}",
        headers=clinic.headers,
        json={"required_form_ids": form_ids},
    )


async def book(
    client: httpx.AsyncClient,
    clinic: Clinic,
    setup: Setup | None = None,
    form_ids: list[str] | None = None,
    days: int = 1,
    hour: int = 10,
) -> Booked:
    """A booked appointment (public hold + booking) on a calendar requiring ``form_ids``."""
    setup = setup or await bookable(clinic.tenant)
    if form_ids is not None:
        r = await require_forms(client, clinic, setup, form_ids)
        assert r.status_code == 200, r.text
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant, days, hour))
    r = await client.post(f"{clinic.public}/bookings", json=booking_body(hold), headers=idem())
    assert r.status_code == 201, r.text
    out = r.json()
    token = parse_qs(urlsplit(out["manage_url"]).query)["token"][0]
    return Booked(setup, out["appointment_id"], token)
