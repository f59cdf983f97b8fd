"""The appointment panel's actions, reschedule and booking for a caller, through the forms."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from carebook.tenancy import tenant_tx
from tests.bookings.support import bookable, booking_body, idem, place_hold, slot
from tests.web.staff.support import add_member, browser, sign_in, staff_url
from tests.web.staff.test_agenda import audit_rows, book

VERSION = re.compile(r'name="version" value="(\d+)"')


async def panel(web, clinic, appointment_id):
    r = await web.get(staff_url(clinic, f"/appointments/{appointment_id}"))
    assert r.status_code == 200, r.text[:300]
    return r


async def act(web, clinic, csrf, appointment_id, action, **extra):
    page = await panel(web, clinic, appointment_id)
    version = VERSION.search(page.text).group(1)
    return await web.post(
        staff_url(clinic, f"/appointments/{appointment_id}/actions"),
        data={"csrf_token": csrf, "action": action, "version": version, **extra},
    )


async def make_upcoming_now(clinic, appointment_id):
    """Move the appointment to start in 5 minutes and let the scheduler make it upcoming."""
    start = datetime.now(UTC) + timedelta(minutes=5)
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE appointments SET starts_at = $2::timestamptz, "
            "ends_at = $2::timestamptz + interval '30 min', "
            "blocking = tstzrange($2::timestamptz, $2::timestamptz + interval '30 min') "
            "WHERE id = $1",
            appointment_id,
            start,
        )
        await conn.execute(
            "SELECT transition_appointment($1, 'upcoming', NULL, 'system', NULL, NULL)",
            appointment_id,
        )


async def test_confirm_start_complete_and_cancel_with_reason(client, clinic):
    setup = await bookable(clinic.tenant)
    one = await book(client, clinic, setup, slot(clinic.tenant, days=3, hour=9))
    two = await book(client, clinic, setup, slot(clinic.tenant, days=3, hour=10))
    one_id, two_id = one["appointment_id"], two["appointment_id"]
    await make_upcoming_now(clinic, one_id)
    rec = await add_member(clinic, "receptionist", name="Rita Desk")
    async with browser(client) as web:
        csrf = await sign_in(web, rec)
        for action, status in (
            ("confirm", "Confirmed"),
            ("start", "In progress"),
            ("complete", "Done"),
        ):
            r = await act(web, clinic, csrf, one_id, action)
            assert r.status_code == 303, (action, r.text[:500])
            page = await panel(web, clinic, one_id)
            assert f'data-testid="appt-status">{status}<' in page.text
        assert "Rita Desk" in page.text  # the history names who acted
        # A stale version is a conflict shown on the page.
        r = await web.post(
            staff_url(clinic, f"/appointments/{two_id}/actions"),
            data={"csrf_token": csrf, "action": "cancel", "version": "99", "reason": "x"},
        )
        assert r.status_code == 409 and "changed since you loaded it" in r.text
        r = await act(web, clinic, csrf, two_id, "cancel", reason="")
        assert r.status_code == 422
        r = await act(web, clinic, csrf, two_id, "cancel", reason="Patient called to cancel")
        assert r.status_code == 303
        page = await panel(web, clinic, two_id)
        assert "Cancelled" in page.text and "Patient called to cancel" in page.text
    changes = await audit_rows(clinic, action="change")
    assert [r["detail"] for r in changes] == ["confirm", "start", "complete", "cancel"]


async def test_reschedule_through_the_slot_picker(client, clinic):
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant, days=2, hour=9)
    booked = await book(client, clinic, setup, start)
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        csrf = await sign_in(web, admin)
        page = await web.get(
            staff_url(clinic, f"/appointments/{booked['appointment_id']}/reschedule")
        )
        assert page.status_code == 200
        choices = re.findall(r'name="slot" value="([^"]+)"', page.text)
        target = next(c for c in choices if "T15:00" in c)
        r = await web.post(
            staff_url(clinic, f"/appointments/{booked['appointment_id']}/reschedule"),
            data={
                "csrf_token": csrf,
                "version": VERSION.search(page.text).group(1),
                "slot": target,
            },
        )
        assert r.status_code == 303, r.text[:500]
        panel_page = await panel(web, clinic, booked["appointment_id"])
        assert "15:00–15:30" in panel_page.text and "rescheduled" in panel_page.text


async def test_book_for_a_caller_new_and_known_patient(client, clinic):
    setup = await bookable(clinic.tenant)
    rec = await add_member(clinic, "receptionist")
    async with browser(client) as web:
        csrf = await sign_in(web, rec)
        day = slot(clinic.tenant, days=2).date().isoformat()
        page = await web.get(staff_url(clinic, f"/book?calendar={setup.calendar_id}&day={day}"))
        assert page.status_code == 200
        choice = next(
            c for c in re.findall(r'name="slot" value="([^"]+)"', page.text) if "T11:00" in c
        )
        idem = re.search(r'name="idem" value="([^"]+)"', page.text).group(1)
        form = {
            "csrf_token": csrf,
            "idem": idem,
            "calendar_id": str(setup.calendar_id),
            "slot": choice,
            "name": "Carl Caller",
            "email": "carl@x.test",
            "phone": "",
            "timezone": "Europe/Berlin",
            "notes": "by phone",
        }
        r = await web.post(staff_url(clinic, "/book"), data=form)
        assert r.status_code == 303, r.text[:800]
        booked = await web.get(r.headers["location"])
        assert "Carl Caller" in booked.text and "11:00–11:30" in booked.text
        # The same form sent twice books once.
        again = await web.post(staff_url(clinic, "/book"), data=form)
        assert again.status_code == 409
        # A known caller is found and prefilled.
        found = await web.get(staff_url(clinic, f"/book?calendar={setup.calendar_id}&find=carl"))
        link = re.search(r'href="(\?calendar=[^"]+patient=[^"]+)"', found.text).group(1)
        prefilled = await web.get(staff_url(clinic, "/book") + link.replace("&amp;", "&"))
        assert 'value="carl@x.test"' in prefilled.text
        # Missing caller details are explained on the page.
        bad = await web.post(staff_url(clinic, "/book"), data={**form, "idem": "k-2", "email": ""})
        assert bad.status_code == 422 and "e-mail" in bad.text


async def test_a_held_slot_is_no_appointment_on_the_page_as_in_the_api(client, clinic):
    """A hold is not an appointment yet: the panel answers 404, as the staff API does; once
    booked, the same id is the panel with its service, forms, history and the audit row."""
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant, days=2, hour=9))
    appointment_id = hold["hold_id"]
    api = await client.get(f"{clinic.api}/appointments/{appointment_id}", headers=clinic.headers)
    assert api.status_code == 404 and api.json()["code"] == "appointment_not_found"
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        csrf = await sign_in(web, admin)
        for path in ("", "/reschedule"):
            r = await web.get(staff_url(clinic, f"/appointments/{appointment_id}{path}"))
            assert r.status_code == 404, (path, r.text[:300])
            assert "No such appointment." in r.text
        r = await web.post(
            staff_url(clinic, f"/appointments/{appointment_id}/actions"),
            data={"csrf_token": csrf, "action": "cancel", "version": "1", "reason": "x"},
        )
        assert r.status_code == 404
        assert await audit_rows(clinic, subject="appointment") == []
        body = booking_body(hold, "held.then.booked@patients.test")
        booked = await client.post(f"{clinic.public}/bookings", json=body, headers=idem())
        assert booked.status_code == 201, booked.text
        page = await panel(web, clinic, appointment_id)
    assert "Consultation service" in page.text
    assert 'data-testid="appt-status">Booked<' in page.text
    assert "No forms for this appointment." in page.text
    history = page.text.split('id="h-history"')[1]
    assert "booked → booked" in history and "patient" in history
    assert VERSION.search(page.text) and 'value="cancel"' in page.text
    views = await audit_rows(clinic, subject="appointment")
    assert [(str(r["subject_id"]), r["action"]) for r in views] == [(appointment_id, "view")]
