"""The patient's forms as HTML pages: listed on the manage page, filled, validated, printed."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from tests.conftest import Clinic
from tests.forms.support import book, create_form
from tests.forms.test_instances import generate, set_status
from tests.web.test_pages import is_html


def manage_url(clinic: Clinic, appointment_id: str, token: str) -> str:
    return f"/c/{clinic.slug}/manage/{appointment_id}?token={quote(token, safe='')}"


def form_url(clinic: Clinic, appointment_id: str, instance_id: str, token: str) -> str:
    return (
        f"/c/{clinic.slug}/manage/{appointment_id}/forms/{instance_id}"
        f"?token={quote(token, safe='')}"
    )


async def test_fill_an_intake_form_without_javascript(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    form = await create_form(client, clinic, "Health questionnaire")
    booked = await book(client, clinic, form_ids=[form["id"]])
    await generate(clinic.tenant, booked.appointment_id)
    page = is_html(await client.get(manage_url(clinic, booked.appointment_id, booked.token)), 200)
    assert "Health questionnaire" in page and "To fill in before your visit" in page
    [inst] = (
        await client.get(
            f"{clinic.public}/appointments/{booked.appointment_id}/forms", headers=booked.manage
        )
    ).json()
    url = form_url(clinic, booked.appointment_id, inst["id"], booked.token)
    page = is_html(await client.get(url), 200)
    for label in ("Full name", "Medical history", "Weight (kg)", "Date of birth", "Which knee?",
                  "Symptoms", "Do you smoke?", "I agree to the treatment."):  # fmt: skip
        assert label in page
    assert 'type="date"' in page and 'inputmode="decimal"' in page and "autosave.js" in page
    # Wrong answers: 422, each field with its own message; the valid ones are kept.
    bad = {
        "full_name": "Pat Example",
        "weight": "heavy",
        "birth_date": "1981-02-29",
        "side": "Left",
        "smoker": "yes",
        "consent__agreed": "yes",
        "consent__name": "",
        "action": "submit",
    }
    r = await client.post(url, data=bad)
    page = is_html(r, 422)
    assert "Please correct 3 answers" in page
    assert "Enter a number, e.g. 72 or 72.5." in page
    assert "That date does not exist." in page
    assert "Type your full name to sign." in page
    assert 'value="Pat Example"' in page and 'value="heavy"' in page
    # Save part, finish later.
    r = await client.post(url, data={"full_name": "Pat Example", "action": "save"})
    assert r.status_code == 303 and r.headers["location"].endswith("&saved=1")
    page = is_html(await client.get(r.headers["location"]), 200)
    assert "Your answers are saved" in page and 'value="Pat Example"' in page
    # Submit with the rest.
    good = {
        "full_name": "Pat Example",
        "birth_date": "1980-02-29",
        "symptoms": ["Pain", "Stiffness"],
        "smoker": "no",
        "consent__agreed": "yes",
        "consent__name": "Pat Example",
        "action": "submit",
    }
    r = await client.post(url, data=good)
    assert r.status_code == 303, r.text
    page = is_html(await client.get(r.headers["location"]), 200)
    assert "Submitted" in page
    page = is_html(await client.get(url), 200)
    assert "Submitted answers" in page and "Pain, Stiffness" in page and "<form" not in page
    assert "Signed by Pat Example" in page


async def test_completed_post_appointment_form_is_readable_and_printable(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    await create_form(client, clinic, "Visit report", "post_appointment", fields=[
        {"key": "findings", "type": "long_text", "label": "Findings", "required": True},
    ])  # fmt: skip
    booked = await book(client, clinic)
    await set_status(clinic.tenant, booked.appointment_id, "done")
    await generate(clinic.tenant, booked.appointment_id, "post_appointment")
    staff_url = f"{clinic.api}/appointments/{booked.appointment_id}/forms"
    [inst] = (await client.get(staff_url, headers=clinic.headers)).json()
    url = form_url(clinic, booked.appointment_id, inst["id"], booked.token)
    is_html(await client.get(url), 404)  # not before it is completed
    page = is_html(await client.get(manage_url(clinic, booked.appointment_id, booked.token)), 200)
    assert "Visit report" not in page
    await client.put(f"{staff_url}/{inst['id']}/answers", headers=clinic.headers,
                     json={"answers": {"findings": "Healing <well>."}})  # fmt: skip
    await client.post(f"{staff_url}/{inst['id']}/submit", headers=clinic.headers)
    page = is_html(await client.get(manage_url(clinic, booked.appointment_id, booked.token)), 200)
    assert "Visit report" in page and "From your specialist" in page
    printable = url.replace(f"/forms/{inst['id']}?", f"/forms/{inst['id']}/print?")
    page = is_html(await client.get(printable), 200)
    assert "Healing &lt;well&gt;." in page and "Print" in page
    r = await client.post(url, data={"findings": "changed"})
    is_html(r, 403)
    wrong_token = url.replace(booked.token[-6:], "aaaaaa")
    is_html(await client.get(wrong_token), 404)
