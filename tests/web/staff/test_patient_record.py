"""A patient's record for staff: appointments, forms with their answers, messages sent."""

from __future__ import annotations

from carebook.tenancy import tenant_tx
from forms import instances
from notifications import service as notify
from tests.forms.support import VALID_ANSWERS, book, create_form
from tests.web.staff.support import add_member, browser, sign_in, staff_url


async def answer_intake(client, clinic, booked, history: str) -> None:
    """The patient fills the appointment's one intake form through the public API."""
    [instance] = (
        await client.get(
            f"{clinic.public}/appointments/{booked.appointment_id}/forms", headers=booked.manage
        )
    ).json()
    r = await client.put(
        f"{clinic.public}/appointments/{booked.appointment_id}/forms/{instance['id']}/answers",
        json={"answers": {**VALID_ANSWERS, "history": history}},
        headers=booked.manage,
    )
    assert r.status_code == 200, r.text


async def test_the_record_shows_forms_with_answers_and_messages_with_one_audit_row(client, clinic):
    form = await create_form(client, clinic, name="Knee intake")
    booked = await book(client, clinic, form_ids=[form["id"]])
    async with tenant_tx(clinic.tenant) as conn:
        assert await instances.generate(conn, booked.appointment_id, "intake") == 1
        patient_id = await conn.fetchval(
            "SELECT patient_id FROM appointments WHERE id = $1", booked.appointment_id
        )
    await answer_intake(client, clinic, booked, "Knee surgery in spring 2019")
    await notify.on_booked(clinic.tenant, booked.appointment_id, None)  # the outbox (no SMTP)
    rec = await add_member(clinic, "receptionist")
    async with tenant_tx(clinic.tenant) as conn:
        before = await conn.fetchval("SELECT count(*) FROM audit_events")
    async with browser(client) as web:
        await sign_in(web, rec)
        page = await web.get(staff_url(clinic, f"/patients/{patient_id}"))
    assert page.status_code == 200, page.text[:500]
    forms_part = page.text.split('data-testid="patient-forms"')[1].split('id="h-messages"')[0]
    assert "Knee intake" in forms_part and "Not submitted yet" in forms_part
    assert "Medical history" in forms_part and "Knee surgery in spring 2019" in forms_part
    assert "Yes" not in forms_part.split("Do you smoke?")[1][:40]  # "No", as answered
    assert "Agreed. Signed by Pat Example" in forms_part
    messages = page.text.split('data-testid="patient-messages"')[1].split("</table>")[0]
    async with tenant_tx(clinic.tenant) as conn:
        sent = await conn.fetch(
            "SELECT l.recipient, l.recipient_kind, o.subject FROM notification_log l "
            "LEFT JOIN outbox_messages o ON o.log_id = l.id"
        )
        rows = await conn.fetch("SELECT * FROM audit_events ORDER BY id")
    to_patient = [s for s in sent if s["recipient_kind"] == "patient"]
    assert to_patient and len(to_patient) < len(sent)  # the specialist's copy is not shown
    for s in to_patient:
        assert s["recipient"] in messages and s["subject"] in messages
    for s in sent:
        if s["recipient_kind"] != "patient":
            assert s["recipient"] not in messages
    new = [dict(r) for r in rows[before:]]
    views = [(r["subject"], r["patient_id"], r["action"]) for r in new]
    assert views == [("agenda", None, "view"), ("patient", patient_id, "view")]  # sign-in's


async def test_the_appointment_panel_shows_its_forms_with_answers(client, clinic):
    form = await create_form(client, clinic, name="Shoulder intake")
    booked = await book(client, clinic, form_ids=[form["id"]])
    other = await book(client, clinic, booked.setup, form_ids=[form["id"]], hour=11)
    async with tenant_tx(clinic.tenant) as conn:
        assert await instances.generate(conn, booked.appointment_id, "intake") == 1
    await answer_intake(client, clinic, booked, "Frozen shoulder since March")
    rec = await add_member(clinic, "receptionist")
    async with tenant_tx(clinic.tenant) as conn:
        before = await conn.fetchval("SELECT coalesce(max(id), 0) FROM audit_events")
    async with browser(client) as web:
        await sign_in(web, rec)
        page = await web.get(staff_url(clinic, f"/appointments/{booked.appointment_id}"))
        bare = await web.get(staff_url(clinic, f"/appointments/{other.appointment_id}"))
    assert page.status_code == 200, page.text[:500]
    part = page.text.split('data-testid="appointment-forms"')[1].split('id="h-history"')[0]
    assert "Shoulder intake" in part and "Frozen shoulder since March" in part
    # The other appointment's forms were never generated: nothing of this one's answers.
    assert "No forms for this appointment." in bare.text
    assert "Frozen shoulder" not in bare.text
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch(
            "SELECT subject, detail FROM audit_events WHERE id > $1 AND subject = 'appointment' "
            "ORDER BY id",
            before,
        )
    assert [(r["subject"], r["detail"]) for r in rows] == [
        ("appointment", "appointment, forms"),
        ("appointment", ""),
    ]
