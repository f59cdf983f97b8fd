"""Forms through the lifecycle: the booked and done actors (real relay and worker), and the
confirm guard on the staff transitions API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx

from carebook.tenancy import tenant_tx
from tests.bookings.lifecycle_support import act, begin, system_upcoming
from tests.conftest import Clinic, JobsRunning, wait_for
from tests.forms.support import VALID_ANSWERS, book, create_form
from tests.helpers import problem


async def _instances(clinic: Clinic, appointment_id: str, phase: str) -> list[Any]:
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch(
            "SELECT id FROM form_instances WHERE appointment_id = $1 AND phase = $2",
            UUID(appointment_id), phase,
        )  # fmt: skip
    return list(rows)


async def test_forms_follow_the_lifecycle(
    client: httpx.AsyncClient, clinic: Clinic, jobs_running: JobsRunning
) -> None:
    intake = await create_form(client, clinic, "Health questionnaire")
    findings = {"key": "findings", "type": "long_text", "label": "Findings", "required": True}
    await create_form(client, clinic, "Visit report", "post_appointment", fields=[findings])
    booked = await book(client, clinic, form_ids=[intake["id"]], days=3)
    aid = booked.appointment_id
    # booked -> forms.generate_intake (through the outbox, relay and a Dramatiq worker)
    [inst] = await wait_for(lambda: _instances(clinic, aid, "intake"))
    await system_upcoming(clinic.tenant, aid)
    body = problem(await act(client, clinic, aid, "confirm"), 409, "intake_forms_missing")
    assert body["missing"] == ["Health questionnaire"]
    url = f"{clinic.public}/appointments/{aid}/forms/{inst['id']}"
    r = await client.put(f"{url}/answers", headers=booked.manage, json={"answers": VALID_ANSWERS})
    assert r.status_code == 200, r.text
    # Saved but not submitted: still missing.
    problem(await act(client, clinic, aid, "confirm"), 409, "intake_forms_missing")
    assert (await client.post(f"{url}/submit", headers=booked.manage)).status_code == 200
    r = await act(client, clinic, aid, "confirm")
    assert r.status_code == 200, r.text
    # Confirmed: the patient's answers are final.
    problem(await client.put(f"{url}/answers/full_name", headers=booked.manage,
                             json={"value": "x"}), 409, "form_already_submitted")  # fmt: skip
    await begin(clinic, aid)
    assert (await act(client, clinic, aid, "start")).status_code == 200
    assert await _instances(clinic, aid, "post_appointment") == []
    assert (await act(client, clinic, aid, "complete")).status_code == 200
    # done -> forms.generate_post_appointment
    [report] = await wait_for(lambda: _instances(clinic, aid, "post_appointment"))
    staff_url = f"{clinic.api}/appointments/{aid}/forms/{report['id']}"
    r = await client.put(f"{staff_url}/answers", headers=clinic.headers,
                         json={"answers": {"findings": "All well."}})  # fmt: skip
    assert r.status_code == 200, r.text
    assert (await client.post(f"{staff_url}/submit", headers=clinic.headers)).status_code == 200
    r = await client.get(f"{clinic.public}/appointments/{aid}/forms", headers=booked.manage)
    assert {f["name"]: f["status"] for f in r.json()} == {
        "Health questionnaire": "submitted",
        "Visit report": "submitted",
    }


async def test_appointment_without_required_forms_confirms(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    booked = await book(client, clinic, days=3)
    await system_upcoming(clinic.tenant, booked.appointment_id)
    r = await act(client, clinic, booked.appointment_id, "confirm")
    assert r.status_code == 200, r.text
