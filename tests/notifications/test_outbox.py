"""Without SMTP configured, every message lands in the clinic's local outbox (staff API)."""

from __future__ import annotations

import httpx
import pytest

from notifications import service
from tests.conftest import Clinic
from tests.helpers import problem
from tests.notifications.conftest import book_one


@pytest.fixture(autouse=True)
def no_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREBOOK_SMTP_HOST", raising=False)


async def test_messages_go_to_the_outbox_staff_can_read(
    client: httpx.AsyncClient, clinic: Clinic, make_clinic
) -> None:
    booked = await book_one(client, clinic.tenant)
    await service.on_booked(clinic.tenant, booked.appointment_id, None)
    await service.on_booked(clinic.tenant, booked.appointment_id, None)  # duplicate job

    r = await client.get(f"{clinic.api}/outbox", headers=clinic.headers)
    assert r.status_code == 200, r.text
    messages = r.json()
    assert sorted(m["recipient"] for m in messages) == sorted(
        [booked.patient_email, booked.specialist_email]
    )
    to_patient = next(m for m in messages if m["recipient"] == booked.patient_email)
    assert to_patient["template"] == "booked_patient"
    assert to_patient["language"] == "en"
    assert "/manage/" in to_patient["body_text"] and to_patient["body_html"].startswith("<!doctype")
    [ics] = to_patient["attachments"]
    assert ics["filename"] == "appointment.ics" and "BEGIN:VCALENDAR" in ics["content"]

    log = (await client.get(f"{clinic.api}/notifications", headers=clinic.headers)).json()
    assert {(e["transport"], e["status"], e["attempts"]) for e in log} == {("outbox", "sent", 1)}
    filtered = await client.get(
        f"{clinic.api}/outbox",
        params={"appointment_id": str(booked.appointment_id), "limit": 1},
        headers=clinic.headers,
    )
    assert len(filtered.json()) == 1

    # Another clinic's staff see nothing of it, and cannot read this clinic's outbox.
    other = await make_clinic()
    assert (await client.get(f"{other.api}/outbox", headers=other.headers)).json() == []
    problem(await client.get(f"{clinic.api}/outbox", headers=other.headers), 401)
    problem(await client.get(f"{clinic.api}/outbox"), 401)
