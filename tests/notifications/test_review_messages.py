"""The reviews domain's messages through the notifications domain, into a real SMTP server:
the invitation after ``done`` (its link opens the review form and the review is accepted)
and the low-rating alert to every active clinic admin, once per review."""

from __future__ import annotations

import re
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx

from bookings import manage_links
from carebook.tenancy import tenant_tx
from tests.bookings.lifecycle_support import act, book, move_to, staff_member
from tests.bookings.support import bookable, slot
from tests.conftest import Clinic
from tests.notifications.conftest import Inbox, set_clinic_settings
from tests.notifications.jobs import run_jobs

REVIEW_LINK = re.compile(r"https?://\S+#review")


def text_of(mail: EmailMessage) -> str:
    return str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]


async def done(client: httpx.AsyncClient, clinic: Clinic, email: str, hour: int) -> str:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup, slot(clinic.tenant, days=3, hour=hour), email=email)
    await move_to(client, clinic, appt["appointment_id"], "done")
    return str(appt["appointment_id"])


async def minted_link_token(clinic: Clinic, appointment_id: str) -> str:
    """The manage link token as the notifications domain mints it for its messages."""
    async with tenant_tx(clinic.tenant) as conn:
        digest = await conn.fetchval(
            "SELECT manage_token_hash FROM appointments WHERE id = $1", UUID(appointment_id)
        )
    return manage_links.link_token(clinic.tenant, UUID(appointment_id), bytes(digest))


async def test_invitation_arrives_after_done_and_its_link_leaves_the_review(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    patient = "reviewer@example.test"
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup, slot(clinic.tenant, days=3, hour=10), email=patient)
    aid = appt["appointment_id"]
    await move_to(client, clinic, aid, "in_progress")
    assert await run_jobs(clinic.tenant, "reviews.invite") == 0  # not before done
    assert (await act(client, clinic, aid, "complete")).status_code == 200
    assert await run_jobs(clinic.tenant, "reviews.invite", deliveries=2) == 1

    [invitation] = smtp.to(patient)  # a duplicated job: still one e-mail
    assert "How was your appointment" in invitation["Subject"]
    link = REVIEW_LINK.search(text_of(invitation))
    assert link, text_of(invitation)
    parts = urlsplit(link.group(0))
    token = parse_qs(parts.query)["token"][0]
    assert token.startswith(manage_links.LINK_TOKEN_PREFIX)  # a link token, not the manage token
    assert parts.path == f"/c/{clinic.slug}/manage/{aid}"
    page = await client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200, page.text[:300]
    assert 'id="review"' in page.text and 'name="rating"' in page.text

    review = f"{clinic.public}/appointments/{aid}/review"
    r = await client.post(review, headers={"X-Manage-Token": token}, json={"rating": 5})
    assert r.status_code == 201, r.text
    mine = await client.get(review, headers={"X-Manage-Token": token})
    assert mine.status_code == 200 and mine.json()["rating"] == 5
    async with tenant_tx(clinic.tenant) as conn:
        log = await conn.fetch(
            "SELECT status, recipient_kind FROM notification_log WHERE template = 'review_invite'"
        )
    assert [(r["status"], r["recipient_kind"]) for r in log] == [("sent", "patient")]


async def test_low_rating_alerts_every_active_admin_once_in_the_clinic_language(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    first_admin = f"admin@{clinic.slug}.test"
    await staff_member(clinic, "admin", "second.admin@example.test")
    await staff_member(clinic, "admin", "former.admin@example.test")
    await staff_member(clinic, "receptionist", "desk@example.test")
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE staff_users SET active = false WHERE email = 'former.admin@example.test'"
        )
    aid = await done(client, clinic, "unhappy@example.test", hour=9)
    token = await minted_link_token(clinic, aid)
    r = await client.post(f"{clinic.public}/appointments/{aid}/review",
                          headers={"X-Manage-Token": token},
                          json={"rating": 2, "comment": "Waited an hour."})  # fmt: skip
    assert r.status_code == 201, r.text
    clinic.tenant = await set_clinic_settings(clinic.slug, default_language="de")

    assert await run_jobs(clinic.tenant, "reviews.alert_admins", deliveries=2) == 1

    for admin in (first_admin, "second.admin@example.test"):
        [alert] = smtp.to(admin)
        assert alert["Subject"].startswith("Niedrige Bewertung: 2 von 5"), alert["Subject"]
        body = text_of(alert)
        assert "Waited an hour." in body and f"/staff/appointments/{aid}" in body
    assert smtp.to("former.admin@example.test") == []
    assert smtp.to("desk@example.test") == []
    async with tenant_tx(clinic.tenant) as conn:
        notified = await conn.fetchval(
            "SELECT notified_at FROM review_alerts WHERE appointment_id = $1", UUID(aid)
        )
        kinds = await conn.fetch(
            "SELECT recipient_kind, status FROM notification_log WHERE template = 'review_alert'"
        )
    assert notified is not None
    assert sorted((k["recipient_kind"], k["status"]) for k in kinds) == [("staff", "sent")] * 2


async def test_a_rating_at_or_above_the_threshold_alerts_nobody(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    for hour, rating in ((9, 3), (11, 5)):  # the default threshold is 3: a 3 is not below it
        aid = await done(client, clinic, f"fine{hour}@example.test", hour=hour)
        token = await minted_link_token(clinic, aid)
        r = await client.post(
            f"{clinic.public}/appointments/{aid}/review",
            headers={"X-Manage-Token": token},
            json={"rating": rating},
        )
        assert r.status_code == 201, r.text
    assert await run_jobs(clinic.tenant, "reviews.alert_admins") == 0
    assert smtp.messages == []
    async with tenant_tx(clinic.tenant) as conn:
        assert await conn.fetchval("SELECT count(*) FROM review_alerts") == 0
