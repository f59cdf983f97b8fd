"""The manage page's Cancel (a plain form) and Reschedule (the live slot picker) (issue 11)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from carebook.tenancy import tenant_tx
from tests.bookings.lifecycle_support import book, detail, shift_start
from tests.bookings.support import bookable, slot
from tests.conftest import Clinic


async def test_cancel_form_cancels_and_reports(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup)
    aid, token = appt["appointment_id"], appt["manage_token"]
    page = await client.get(f"/c/{clinic.slug}/manage/{aid}?token={token}")
    assert page.status_code == 200
    assert 'data-testid="cancel-form"' in page.text and "coming soon" not in page.text
    url = f"/c/{clinic.slug}/manage/{aid}/cancel?token={token}"
    r = await client.post(url, data={"reason": "not a listed reason"})
    assert r.status_code == 303 and "change=reason_required" in r.headers["location"]
    assert (await detail(client, clinic, aid))["status"] == "booked"
    r = await client.post(url, data={"reason": "I feel better", "detail": "Thanks!",
                                     "version": "2"})  # fmt: skip
    assert r.status_code == 303 and "change=cancelled" in r.headers["location"]
    after = await detail(client, clinic, aid)
    assert after["status"] == "cancelled"
    assert after["history"][-1]["reason"] == "I feel better: Thanks!"
    assert after["history"][-1]["actor_kind"] == "patient"
    page = await client.get(r.headers["location"])
    assert "Your appointment is cancelled" in page.text
    assert 'data-testid="cancel-form"' not in page.text
    # A wrong token cancels nothing.
    r = await client.post(f"/c/{clinic.slug}/manage/{aid}/cancel?token=cbm_nope",
                          data={"reason": "I feel better"})  # fmt: skip
    assert r.status_code == 404


async def test_after_the_cutoff_the_page_says_to_call(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup)
    aid, token = appt["appointment_id"], appt["manage_token"]
    async with tenant_tx(clinic.tenant) as conn:
        start = await conn.fetchval("SELECT starts_at FROM appointments WHERE id = $1::uuid", aid)
    await shift_start(clinic.tenant, aid, start.now(start.tzinfo) + timedelta(hours=3) - start)
    page = await client.get(f"/c/{clinic.slug}/manage/{aid}?token={token}")
    assert 'data-testid="cutoff-passed"' in page.text
    assert 'data-testid="cancel-form"' not in page.text
    r = await client.get(f"/c/{clinic.slug}/manage/{aid}/reschedule?token={token}")
    assert r.status_code == 303 and "cancellation_cutoff_passed" in r.headers["location"]


async def test_reschedule_page_carries_the_picker(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup, slot(clinic.tenant, days=3, hour=10))
    aid, token = appt["appointment_id"], appt["manage_token"]
    r = await client.get(f"/c/{clinic.slug}/manage/{aid}/reschedule?token={token}")
    assert r.status_code == 200, r.text
    assert "/static/booking/reschedule.js" in r.text
    assert str(setup.calendar_id) in r.text
    assert r.headers["cache-control"] == "no-store"
    r = await client.get(f"/c/{clinic.slug}/manage/{aid}/reschedule?token=cbm_nope")
    assert r.status_code == 404
