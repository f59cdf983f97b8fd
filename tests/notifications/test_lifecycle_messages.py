"""Cancellation, reschedule and reminder messages; the .ics across an appointment's life."""

from __future__ import annotations

from email.message import EmailMessage

import httpx
from icalendar import Calendar

from notifications import service
from tests.bookings.lifecycle_support import detail
from tests.conftest import Clinic
from tests.notifications.conftest import Inbox, book_one, cancel, move


def ics_of(mail: EmailMessage) -> Calendar:
    [part] = [p for p in mail.iter_attachments() if p.get_filename() == "appointment.ics"]
    return Calendar.from_ical(part.get_payload(decode=True))


def event_of(mail: EmailMessage) -> dict[str, str]:
    cal = ics_of(mail)
    [event] = cal.walk("VEVENT")
    return {
        "method": str(cal["method"]),
        "uid": str(event["uid"]),
        "sequence": str(event["sequence"]),
        "status": str(event["status"]),
        "dtstart": event.decoded("dtstart").isoformat(),
    }


async def test_cancellation_tells_both_sides_and_cancels_the_calendar_event(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    booked = await book_one(client, clinic.tenant)
    await service.on_booked(clinic.tenant, booked.appointment_id, None)
    await cancel(client, clinic, booked.appointment_id, "Doctor is ill")
    for _ in range(2):  # a duplicated job
        await service.on_cancelled(clinic.tenant, booked.appointment_id, None, "Doctor is ill")

    confirmation, cancellation = smtp.to(booked.patient_email)
    assert "cancelled" in cancellation["Subject"].lower()
    assert "Doctor is ill" in cancellation.get_body(("plain",)).get_content()
    before, after = event_of(confirmation), event_of(cancellation)
    assert after["method"] == "CANCEL" and after["status"] == "CANCELLED"
    assert after["uid"] == before["uid"]
    assert int(after["sequence"]) > int(before["sequence"])
    assert "ORGANIZER" in ics_of(cancellation).to_ical().decode()
    [_, to_specialist] = smtp.to(booked.specialist_email)
    assert "cancelled" in to_specialist["Subject"].lower()


async def test_reschedule_notice_once_per_new_time_with_same_uid_higher_sequence(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    booked = await book_one(client, clinic.tenant, hour=10)
    await service.on_booked(clinic.tenant, booked.appointment_id, None)
    await move(client, clinic, booked.appointment_id, hours=3)
    await service.on_rescheduled(clinic.tenant, booked.appointment_id, None)
    await service.on_rescheduled(clinic.tenant, booked.appointment_id, None)  # duplicate
    await move(client, clinic, booked.appointment_id, hours=1)
    await service.on_rescheduled(clinic.tenant, booked.appointment_id, None)

    first, moved, moved_again = smtp.to(booked.patient_email)
    assert "13:00" in moved.get_body(("plain",)).get_content()
    assert "14:00" in moved_again.get_body(("plain",)).get_content()
    events = [event_of(m) for m in (first, moved, moved_again)]
    assert len({e["uid"] for e in events}) == 1
    sequences = [int(e["sequence"]) for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3
    assert len(smtp.to(booked.specialist_email)) == 3


async def test_reminder_goes_to_both_once_and_never_at_an_old_time(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    booked = await book_one(client, clinic.tenant, hour=11)
    notice = await service.load_notice(clinic.tenant, booked.appointment_id)
    assert notice is not None
    planned_for = notice.starts_at.isoformat()
    await service.on_reminder(clinic.tenant, booked.appointment_id, None, 24, planned_for)
    await service.on_reminder(clinic.tenant, booked.appointment_id, None, 24, planned_for)
    await service.on_reminder(clinic.tenant, booked.appointment_id, None, 2, planned_for)
    [r24, _r2] = smtp.to(booked.patient_email)
    assert r24["Subject"].startswith("Reminder") and "11:00" in r24["Subject"]
    assert len(smtp.to(booked.specialist_email)) == 2

    # Moved since the reminder was planned: the stale reminder sends nothing.
    await move(client, clinic, booked.appointment_id, hours=2)
    await service.on_reminder(clinic.tenant, booked.appointment_id, None, 24, planned_for)
    assert len(smtp.to(booked.patient_email)) == 2
    # Cancelled: no reminder either.
    await cancel(client, clinic, booked.appointment_id)
    await service.on_reminder(clinic.tenant, booked.appointment_id, None, 24, None)
    assert len(smtp.to(booked.patient_email)) == 2


async def test_confirmation_not_sent_for_an_appointment_cancelled_before_the_job_ran(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    booked = await book_one(client, clinic.tenant)
    await cancel(client, clinic, booked.appointment_id)
    await service.on_booked(clinic.tenant, booked.appointment_id, None)
    await service.on_rescheduled(clinic.tenant, booked.appointment_id, None)
    assert smtp.messages == []


async def test_the_emailed_manage_link_lets_the_patient_cancel(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    booked = await book_one(client, clinic.tenant)
    await service.on_booked(clinic.tenant, booked.appointment_id, None)
    [mail] = smtp.to(booked.patient_email)
    link = next(w for w in mail.get_body(("plain",)).get_content().split() if "/manage/" in w)
    token = link.split("token=", 1)[1]
    assert token.startswith("cbl_")
    url = f"{clinic.public}/appointments/{booked.appointment_id}/cancel"
    version = (await detail(client, clinic, booked.appointment_id))["version"]
    body = {"version": version, "reason": "Cannot come"}
    r = await client.post(url, json=body, headers={"X-Manage-Token": token[:-2] + "xx"})
    assert r.status_code == 404
    r = await client.post(url, json=body, headers={"X-Manage-Token": token})
    assert r.status_code == 200, r.text
