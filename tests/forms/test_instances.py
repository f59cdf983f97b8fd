"""Form instances: generation, the patient's answers, versioning, isolation, the guard."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import httpx

from carebook.tenancy import Tenant, tenant_tx
from forms import instances
from tests.conftest import Clinic
from tests.forms.support import EVERY_TYPE, VALID_ANSWERS, Booked, book, create_form
from tests.helpers import problem


async def generate(tenant: Tenant, appointment_id: str, phase: str = "intake") -> int:
    """The body of the booked/done actors, run directly."""
    async with tenant_tx(tenant) as conn:
        return await instances.generate(conn, UUID(appointment_id), phase)


async def missing(tenant: Tenant, appointment_id: str) -> list[str]:
    async with tenant_tx(tenant) as conn:
        return await instances.missing_intake(conn, UUID(appointment_id))


async def set_status(tenant: Tenant, appointment_id: str, status: str) -> None:
    """Test setup only: the lifecycle's transitions move real appointments."""
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            "UPDATE appointments SET status = $2 WHERE id = $1", UUID(appointment_id), status
        )


def forms_url(clinic: Clinic, booked: Booked) -> str:
    return f"{clinic.public}/appointments/{booked.appointment_id}/forms"


async def my_forms(client: httpx.AsyncClient, clinic: Clinic, booked: Booked) -> list[Any]:
    r = await client.get(forms_url(clinic, booked), headers=booked.manage)
    assert r.status_code == 200, r.text
    body: list[Any] = r.json()
    return body


async def test_generation_is_idempotent_and_guard_names_forms(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    a = await create_form(client, clinic, "Health questionnaire")
    b = await create_form(client, clinic, "Consent", fields=[EVERY_TYPE[-1]])
    booked = await book(client, clinic, form_ids=[a["id"], b["id"]])
    # The guard holds before the actor has run.
    assert await missing(clinic.tenant, booked.appointment_id) == ["Health questionnaire",
                                                                   "Consent"]  # fmt: skip
    assert await generate(clinic.tenant, booked.appointment_id) == 2
    assert await generate(clinic.tenant, booked.appointment_id) == 0  # a duplicate message
    forms = await my_forms(client, clinic, booked)
    assert {f["name"] for f in forms} == {"Health questionnaire", "Consent"}
    consent = next(f for f in forms if f["name"] == "Consent")
    url = f"{forms_url(clinic, booked)}/{consent['id']}"
    r = await client.put(f"{url}/answers/consent", headers=booked.manage,
                         json={"value": {"agreed": True, "name": "Pat Example"}})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["answers"]["consent"]["name"] == "Pat Example"
    assert r.json()["answers"]["consent"]["signed_at"]
    r = await client.post(f"{url}/submit", headers=booked.manage)
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    assert await missing(clinic.tenant, booked.appointment_id) == ["Health questionnaire"]
    problem(await client.post(f"{url}/submit", headers=booked.manage), 409,
            "form_already_submitted")  # fmt: skip
    problem(await client.put(f"{url}/answers/consent", headers=booked.manage,
                             json={"value": None}), 409, "form_already_submitted")  # fmt: skip


async def test_patient_fills_field_by_field(client: httpx.AsyncClient, clinic: Clinic) -> None:
    form = await create_form(client, clinic)
    booked = await book(client, clinic, form_ids=[form["id"]])
    await generate(clinic.tenant, booked.appointment_id)
    [inst] = await my_forms(client, clinic, booked)
    assert inst["status"] == "pending" and inst["template_version"] == 1
    assert inst["missing"] == ["full_name", "birth_date", "smoker", "consent"]
    url = f"{forms_url(clinic, booked)}/{inst['id']}"
    # One field at a time: a valid value is saved, an invalid one is 422 for that field.
    r = await client.put(f"{url}/answers/weight", headers=booked.manage, json={"value": "72,5"})
    assert r.status_code == 200 and r.json()["answers"]["weight"] == 72.5
    body = problem(await client.put(f"{url}/answers/weight", headers=booked.manage,
                                    json={"value": 500}), 422, "invalid_answers")  # fmt: skip
    assert body["errors"] == [{"field": "weight", "message": "Enter a number of at most 400."}]
    problem(await client.put(f"{url}/answers/nope", headers=booked.manage, json={"value": 1}),
            422, "invalid_answers")  # fmt: skip
    # Several at once: each wrong field gets its own message; the right ones are kept.
    body = problem(
        await client.put(f"{url}/answers", headers=booked.manage, json={"answers": {
            "full_name": "Pat", "birth_date": "1981-02-29", "side": "Middle", "smoker": "no"}}),
        422, "invalid_answers",
    )  # fmt: skip
    assert {e["field"]: e["message"] for e in body["errors"]} == {
        "birth_date": "That date does not exist.",
        "side": "Choose one of the options.",
    }
    [inst] = await my_forms(client, clinic, booked)
    assert inst["answers"] == {"weight": 72.5, "full_name": "Pat", "smoker": False}
    body = problem(await client.post(f"{url}/submit", headers=booked.manage), 422,
                   "form_incomplete")  # fmt: skip
    assert [e["field"] for e in body["errors"]] == ["birth_date", "consent"]
    # Clearing a field: null removes the answer.
    r = await client.put(f"{url}/answers/weight", headers=booked.manage, json={"value": None})
    assert "weight" not in r.json()["answers"]
    r = await client.put(f"{url}/answers", headers=booked.manage, json={"answers": VALID_ANSWERS})
    assert r.status_code == 200, r.text
    assert r.json()["missing"] == []
    r = await client.post(f"{url}/submit", headers=booked.manage)
    assert r.status_code == 200
    assert await missing(clinic.tenant, booked.appointment_id) == []
    # Staff read the answers.
    r = await client.get(f"{clinic.api}/appointments/{booked.appointment_id}/forms",
                         headers=clinic.headers)  # fmt: skip
    assert r.status_code == 200
    [staff_view] = r.json()
    assert staff_view["answers"]["symptoms"] == ["Pain", "Swelling"]
    assert staff_view["submitted_by_kind"] == "patient"


async def test_editing_a_template_never_changes_given_answers(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    form = await create_form(client, clinic)
    first = await book(client, clinic, form_ids=[form["id"]])
    await generate(clinic.tenant, first.appointment_id)
    [inst] = await my_forms(client, clinic, first)
    url = f"{forms_url(clinic, first)}/{inst['id']}"
    await client.put(f"{url}/answers", headers=first.manage, json={"answers": VALID_ANSWERS})
    await client.post(f"{url}/submit", headers=first.manage)
    new_fields = [{"key": "full_name", "type": "number", "label": "Now a number"}]
    r = await client.put(f"{clinic.api}/forms/{form['id']}", headers=clinic.headers,
                         json={"name": "Intake (new)", "fields": new_fields})  # fmt: skip
    assert r.json()["version"] == 2
    [after] = await my_forms(client, clinic, first)
    assert after["template_version"] == 1 and after["name"] == "Intake"
    assert after["fields"] == inst["fields"]
    assert after["answers"]["full_name"] == "Pat Example"
    second = await book(client, clinic, setup=first.setup, hour=11)
    await generate(clinic.tenant, second.appointment_id)
    [new] = await my_forms(client, clinic, second)
    assert new["template_version"] == 2 and new["fields"][0]["type"] == "number"


async def test_another_appointments_or_clinics_form_is_refused(
    client: httpx.AsyncClient, clinic: Clinic, make_clinic: Any
) -> None:
    form = await create_form(client, clinic)
    mine = await book(client, clinic, form_ids=[form["id"]])
    theirs = await book(client, clinic, setup=mine.setup, hour=11)
    await generate(clinic.tenant, mine.appointment_id)
    await generate(clinic.tenant, theirs.appointment_id)
    [their_form] = await my_forms(client, clinic, theirs)
    # My token, their form id under my appointment: not found.
    r = await client.put(f"{forms_url(clinic, mine)}/{their_form['id']}/answers/full_name",
                         headers=mine.manage, json={"value": "Mallory"})  # fmt: skip
    problem(r, 404, "form_not_found")
    # Their appointment with my token: the link is not valid.
    r = await client.put(f"{forms_url(clinic, theirs)}/{their_form['id']}/answers/full_name",
                         headers=mine.manage, json={"value": "Mallory"})  # fmt: skip
    problem(r, 404, "appointment_not_found")
    problem(await client.get(forms_url(clinic, theirs)), 404, "appointment_not_found")
    # The same ids under another clinic: nothing there.
    other = await make_clinic()
    r = await client.get(f"{other.public}/appointments/{theirs.appointment_id}/forms",
                         headers=theirs.manage)  # fmt: skip
    problem(r, 404, "appointment_not_found")
    r = await client.get(f"{other.api}/appointments/{theirs.appointment_id}/forms",
                         headers=other.headers)  # fmt: skip
    problem(r, 404, "appointment_not_found")
    problem(await client.get(f"{clinic.api}/appointments/{uuid4()}/forms",
                             headers=clinic.headers), 404, "appointment_not_found")  # fmt: skip
    [untouched] = await my_forms(client, clinic, theirs)
    assert untouched["answers"] == {}


async def test_intake_closes_once_confirmed(client: httpx.AsyncClient, clinic: Clinic) -> None:
    form = await create_form(client, clinic)
    booked = await book(client, clinic, form_ids=[form["id"]])
    await generate(clinic.tenant, booked.appointment_id)
    [inst] = await my_forms(client, clinic, booked)
    await set_status(clinic.tenant, booked.appointment_id, "in_progress")
    r = await client.put(f"{forms_url(clinic, booked)}/{inst['id']}/answers/full_name",
                         headers=booked.manage, json={"value": "Pat"})  # fmt: skip
    problem(r, 409, "form_closed")


async def test_post_appointment_forms(client: httpx.AsyncClient, clinic: Clinic) -> None:
    report = await create_form(client, clinic, "Visit report", "post_appointment", fields=[
        {"key": "findings", "type": "long_text", "label": "Findings", "required": True},
        {"key": "follow_up", "type": "yes_no", "label": "Follow-up needed?"},
    ])  # fmt: skip
    archived = await create_form(client, clinic, "Old report", "post_appointment")
    await client.delete(f"{clinic.api}/forms/{archived['id']}", headers=clinic.headers)
    booked = await book(client, clinic)
    await set_status(clinic.tenant, booked.appointment_id, "done")
    assert await generate(clinic.tenant, booked.appointment_id, "post_appointment") == 1
    assert await generate(clinic.tenant, booked.appointment_id, "post_appointment") == 0
    assert await my_forms(client, clinic, booked) == []  # not visible until completed
    staff_url = f"{clinic.api}/appointments/{booked.appointment_id}/forms"
    [inst] = (await client.get(staff_url, headers=clinic.headers)).json()
    assert inst["name"] == "Visit report" and inst["template_id"] == report["id"]
    # The patient cannot write it.
    r = await client.put(f"{forms_url(clinic, booked)}/{inst['id']}/answers/findings",
                         headers=booked.manage, json={"value": "fine"})  # fmt: skip
    problem(r, 403, "not_your_form")
    problem(await client.post(f"{staff_url}/{inst['id']}/submit", headers=clinic.headers), 422,
            "form_incomplete")  # fmt: skip
    answers = {"answers": {"findings": "Healing well.", "follow_up": True}}
    r = await client.put(f"{staff_url}/{inst['id']}/answers", headers=clinic.headers, json=answers)
    assert r.status_code == 200, r.text
    r = await client.post(f"{staff_url}/{inst['id']}/submit", headers=clinic.headers)
    assert r.status_code == 200 and r.json()["submitted_by_kind"] == "staff"
    [seen] = await my_forms(client, clinic, booked)
    assert seen["answers"] == {"findings": "Healing well.", "follow_up": True}
