"""The availability editor: weekly hours change the public slots; own vs anyone's; closures."""

from __future__ import annotations

from tests.bookings.support import bookable, slot
from tests.factories import add_specialist
from tests.web.staff.support import add_member, browser, sign_in, staff_url


async def public_slots(client, clinic, setup, day):
    r = await client.get(
        f"{clinic.public}/calendars/{setup.calendar_id}/slots",
        params={"start": day.isoformat(), "end": day.isoformat()},
    )
    assert r.status_code == 200, r.text
    return [s["start"][11:16] for s in r.json()["days"][0]["slots"]]


async def test_admin_edits_weekly_hours_and_the_public_slots_change(client, clinic):
    setup = await bookable(clinic.tenant)
    day = slot(clinic.tenant, days=3).date()
    assert "09:00" in await public_slots(client, clinic, setup, day)
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        csrf = await sign_in(web, admin)
        page = await web.get(staff_url(clinic, f"/availability?specialist={setup.specialist_id}"))
        assert page.status_code == 200 and 'value="09:00-17:00"' in page.text
        form = {"csrf_token": csrf, "buffer_minutes": "0", "timezone": "Europe/Berlin"}
        form |= {f"day{d}": "10:00-12:00, 14:00-15:00" for d in range(1, 8)}
        r = await web.post(
            staff_url(clinic, f"/availability/{setup.specialist_id}/weekly"), data=form
        )
        assert r.status_code == 200 and "Weekly hours saved" in r.text, r.text[:500]
        assert await public_slots(client, clinic, setup, day) == [
            "10:00",
            "10:30",
            "11:00",
            "11:30",
            "14:00",
            "14:30",
        ]
        bad = await web.post(
            staff_url(clinic, f"/availability/{setup.specialist_id}/weekly"),
            data={**form, "day1": "nine to five"},
        )
        assert bad.status_code == 422 and "not a time range" in bad.text
        # A day off, then a clinic closure, shown on the month view.
        r = await web.post(
            staff_url(clinic, f"/availability/{setup.specialist_id}/overrides"),
            data={
                "csrf_token": csrf,
                "start_date": day.isoformat(),
                "kind": "unavailable",
                "reason": "sick",
            },
        )
        assert r.status_code == 200 and "Day off (sick)" in r.text, r.text[:500]
        assert await public_slots(client, clinic, setup, day) == []
        r = await web.post(
            staff_url(clinic, "/closures"),
            data={"csrf_token": csrf, "start_date": day.isoformat(), "reason": "Inventory"},
        )
        assert r.status_code == 200 and "Clinic closed: Inventory" in r.text


async def test_a_specialist_edits_only_their_own(client, clinic):
    spec = await add_member(clinic, "specialist")
    mine = await add_specialist(clinic.tenant, name="Dr Mine", staff_user=spec.id)
    other = await add_specialist(clinic.tenant, name="Dr Other")
    async with browser(client) as web:
        csrf = await sign_in(web, spec)
        page = await web.get(staff_url(clinic, "/availability"))
        assert "Dr Mine" in page.text and "Dr Other" not in page.text
        assert (
            await web.get(staff_url(clinic, f"/availability?specialist={other}"))
        ).status_code == 404
        form = {
            "csrf_token": csrf,
            "buffer_minutes": "5",
            "timezone": "Europe/Berlin",
            "day1": "08:00-12:00",
        }
        r = await web.post(staff_url(clinic, f"/availability/{other}/weekly"), data=form)
        assert r.status_code == 403
        r = await web.post(staff_url(clinic, f"/availability/{mine}/weekly"), data=form)
        assert r.status_code == 200 and 'value="08:00-12:00"' in r.text
        # Closures are the clinic's: admins only.
        r = await web.post(
            staff_url(clinic, "/closures"), data={"csrf_token": csrf, "start_date": "2030-01-01"}
        )
        assert r.status_code == 403
