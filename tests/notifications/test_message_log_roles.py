"""The message log (``GET …/notifications``) by role: messages to staff (invitations, password
resets, alerts: whom the clinic invited or reset, and when) are listed for clinic admins only,
as in the outbox; receptionists keep the patient messages, specialists their own
appointments' (notifications.message_log)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest

from carebook.tenancy import tenant_tx
from notifications import service
from tenants import password_links
from tests.bookings.lifecycle_support import book, move_to, staff_member
from tests.bookings.support import bookable, slot
from tests.conftest import Clinic
from tests.notifications.jobs import run_jobs
from tests.notifications.test_review_messages import minted_link_token

STAFF_TEMPLATES = {"staff_invite", "staff_reset", "review_alert"}


@pytest.fixture(autouse=True)
def no_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREBOOK_SMTP_HOST", raising=False)


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str],
               **params: str) -> list[dict[str, Any]]:  # fmt: skip
    r = await client.get(url, headers=headers, params=params)
    assert r.status_code == 200, r.text
    listed: list[dict[str, Any]] = r.json()
    return listed


async def test_staff_messages_are_in_the_log_of_clinic_admins_only(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    desk_mail = f"desk@{clinic.slug}.test"
    _, desk = await staff_member(clinic, "receptionist", desk_mail)
    doctor_id, doctor = await staff_member(clinic, "specialist", f"doc@{clinic.slug}.test")
    # Staff mail without an appointment: the onboarding invitation, the desk's reset.
    async with tenant_tx(clinic.tenant) as conn:
        await password_links.request_reset(conn, clinic.slug, desk_mail)
    assert await run_jobs(clinic.tenant, "notifications.staff_link") == 2
    # Staff mail about an appointment (the doctor's): the low-rating alert to the admins;
    # and the patient's own messages about it.
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup, slot(clinic.tenant, days=3, hour=9),
                      email="unhappy@example.test")  # fmt: skip
    aid = str(appt["appointment_id"])
    await service.on_booked(clinic.tenant, UUID(aid), None)
    await move_to(client, clinic, aid, "done")
    r = await client.post(f"{clinic.public}/appointments/{aid}/review",
                          headers={"X-Manage-Token": await minted_link_token(clinic, aid)},
                          json={"rating": 1, "comment": "Waited an hour."})  # fmt: skip
    assert r.status_code == 201, r.text
    assert await run_jobs(clinic.tenant, "reviews.alert_admins") == 1
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE specialists SET staff_user = $1 WHERE id = "
            "(SELECT specialist_id FROM appointments WHERE id = $2)",
            doctor_id, UUID(aid),
        )  # fmt: skip
        staff_rows = await conn.fetchval(
            "SELECT count(*) FROM notification_log WHERE recipient_kind = 'staff'"
        )
    assert staff_rows >= 3  # invitation, reset, alert (to each active admin)

    log, outbox = f"{clinic.api}/notifications", f"{clinic.api}/outbox"
    for role, headers in (("admin", clinic.headers), ("receptionist", desk),
                          ("specialist", doctor)):  # fmt: skip
        for params in ({}, {"appointment_id": aid}):
            entries = await _get(client, log, headers, **params)
            staff_mail = [e for e in entries if e["recipient_kind"] == "staff"]
            if role == "admin":
                templates = {e["template"] for e in staff_mail}
                assert templates == ({"review_alert"} if params else STAFF_TEMPLATES), templates
                assert params or desk_mail in {e["recipient"] for e in staff_mail}
            else:
                assert staff_mail == [], (role, params, staff_mail)
                assert not {e["template"] for e in entries} & STAFF_TEMPLATES
                assert desk_mail not in {e["recipient"] for e in entries}
            # The patient's messages about the appointment stay in every role's log.
            patient = [e for e in entries if e["recipient"] == "unhappy@example.test"]
            assert patient and all(e["appointment_id"] == aid for e in patient), role
            # The outbox lists the same staff mail to the same roles.
            messages = await _get(client, outbox, headers, **params)
            assert {(m["recipient"], m["template"]) for m in messages
                    if m["template"] in STAFF_TEMPLATES} == {
                (e["recipient"], e["template"]) for e in staff_mail
            }, role  # fmt: skip
