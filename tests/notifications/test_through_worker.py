"""The lifecycle's notification actors through the real relay and Dramatiq worker, into a
real SMTP server: booking, reschedule, cancellation and a scheduled reminder."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from icalendar import Calendar

from carebook.jobs.scheduler import Scheduler
from carebook.tenancy import tenant_tx
from notifications import reminders
from tests.bookings.lifecycle_support import act, book, detail
from tests.bookings.support import bookable, slot
from tests.conftest import DATABASE_URL, Clinic, JobsRunning, wait_for
from tests.notifications.conftest import Inbox


def arrived(smtp: Inbox, address: str, n: int):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return len(smtp.to(address)) >= n

    return check


async def reminder_rows(clinic: Clinic, aid: str) -> dict[str, object]:
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch(
            "SELECT key, due_at FROM public.scheduled_jobs WHERE schema_name = $1 "
            "AND key LIKE $2 ORDER BY key",
            clinic.tenant.schema,
            f"appointment:{aid}:notify-reminder:%",
        )
    return {r["key"].rsplit(":", 1)[1]: r["due_at"] for r in rows}


async def test_lifecycle_messages_through_the_worker(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox, jobs_running: JobsRunning
) -> None:
    patient = f"p{uuid.uuid4().hex[:8]}@example.test"
    setup = await bookable(clinic.tenant, horizon=30)
    start = slot(clinic.tenant, days=3, hour=10)
    appt = await book(client, clinic, setup, start, email=patient)
    aid = appt["appointment_id"]

    # booked → confirmation to the patient with the .ics, and the reminders planned.
    await wait_for(arrived(smtp, patient, 1))
    [confirmation] = smtp.to(patient)
    assert "booked" in confirmation["Subject"]
    assert any(p.get_filename() == "appointment.ics" for p in confirmation.iter_attachments())

    async def planned() -> dict[str, object]:
        return await reminder_rows(clinic, aid)

    assert await wait_for(planned) == {"24h": start - timedelta(hours=24)}

    # rescheduled → a notice naming the new time; the reminders follow the new start.
    new_start = slot(clinic.tenant, days=4, hour=14)
    version = (await detail(client, clinic, aid))["version"]
    r = await client.post(f"{clinic.api}/appointments/{aid}/reschedule",
                          json={"version": version, "start": new_start.isoformat()},
                          headers=clinic.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    await wait_for(arrived(smtp, patient, 2))
    moved = smtp.to(patient)[1]
    assert "moved" in moved["Subject"] and "14:00" in moved["Subject"]

    async def replanned() -> bool:
        return await reminder_rows(clinic, aid) == {"24h": new_start - timedelta(hours=24)}

    await wait_for(replanned)

    # The reminder, due now: the scheduler hands it over and the actor sends it.
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE public.scheduled_jobs SET due_at = now() WHERE schema_name = $1 AND key = $2",
            clinic.tenant.schema, reminders.job_key(uuid.UUID(aid), 24),
        )  # fmt: skip
        assert await Scheduler(DATABASE_URL).move_due(conn) >= 1
    await wait_for(arrived(smtp, patient, 3))
    assert smtp.to(patient)[2]["Subject"].startswith("Reminder")

    # cancelled (staff, with a reason) → notice with METHOD:CANCEL; reminders dropped.
    r = await act(client, clinic, aid, "cancel", reason="The practice is closed that day")
    assert r.status_code == 200, r.text
    await wait_for(arrived(smtp, patient, 4))
    cancellation = smtp.to(patient)[3]
    assert "The practice is closed that day" in cancellation.get_body(("plain",)).get_content()
    [ics] = [p for p in cancellation.iter_attachments() if p.get_filename() == "appointment.ics"]
    assert str(Calendar.from_ical(ics.get_payload(decode=True))["method"]) == "CANCEL"
    assert await reminder_rows(clinic, aid) == {}

    # The log: every message once, all sent.
    r = await client.get(f"{clinic.api}/notifications", params={"appointment_id": aid},
                         headers=clinic.headers)  # fmt: skip
    log = r.json()
    assert all(e["status"] == "sent" for e in log)
    patient_templates = sorted(e["template"] for e in log if e["recipient"] == patient)
    assert patient_templates == [
        "booked_patient", "cancelled_patient", "reminder_patient", "rescheduled_patient",
    ]  # fmt: skip
