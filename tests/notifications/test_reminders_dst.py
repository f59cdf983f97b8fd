"""Reminders at a DST boundary: due at the right instant, naming the right local time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx

from notifications import reminders, service
from tests.bookings.support import bookable
from tests.conftest import Clinic
from tests.notifications.conftest import Inbox, book_one

BERLIN = ZoneInfo("Europe/Berlin")
# Europe/Berlin springs forward in the night to Sunday 28 March 2027 (02:00 → 03:00).
MONDAY_AFTER = datetime(2027, 3, 29, 10, 0, tzinfo=BERLIN)


def test_due_instants_are_absolute_leads() -> None:
    now = datetime(2027, 3, 1, tzinfo=UTC)
    due = dict(reminders.due_instants(MONDAY_AFTER, (2, 24, 48), now))
    assert due[24] == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)  # Sunday 10:00 CEST
    assert due[2] == datetime(2027, 3, 29, 6, 0, tzinfo=UTC)  # Monday 08:00 CEST
    # 48 h crosses the jump: Saturday 09:00 CET on the wall clock, not 10:00.
    assert due[48] == datetime(2027, 3, 27, 8, 0, tzinfo=UTC)
    assert due[48].astimezone(BERLIN).hour == 9
    # Leads already past are not planned.
    late = datetime(2027, 3, 28, 12, 0, tzinfo=UTC)
    assert [lead for lead, _ in reminders.due_instants(MONDAY_AFTER, (2, 24, 48), late)] == [2]


async def test_reminder_after_spring_forward_names_the_local_time(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    setup = await bookable(clinic.tenant, horizon=400)
    booked = await book_one(client, clinic.tenant, setup=setup, start=MONDAY_AFTER)
    other = await book_one(
        client, clinic.tenant, setup=setup, start=MONDAY_AFTER.replace(hour=11),
        email_addr="ny@example.test", patient_tz="America/New_York",
    )  # fmt: skip
    for b in (booked, other):
        notice = await service.load_notice(clinic.tenant, b.appointment_id)
        assert notice is not None
        await service.on_reminder(
            clinic.tenant, b.appointment_id, None, 24, notice.starts_at.isoformat()
        )
    [berlin] = smtp.to(booked.patient_email)
    text = berlin.get_body(("plain",)).get_content()
    assert "Monday, 29 March 2027" in text
    assert "10:00" in text and "Europe/Berlin (CEST)" in text
    # New York was already on EDT (since 14 March): 11:00 CEST is 05:00 EDT.
    [new_york] = smtp.to("ny@example.test")
    text = new_york.get_body(("plain",)).get_content()
    assert "05:00" in text and "America/New_York (EDT)" in text
