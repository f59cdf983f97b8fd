"""The agenda, the appointment panel, patients and the access audit."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta

from carebook.tenancy import tenant_tx
from tests.bookings.support import bookable, booking_body, idem, place_hold, slot
from tests.factories import add_specialist
from tests.web.staff.support import add_member, browser, sign_in, staff_url


async def book(client, clinic, setup, start, name="Pat Example", email=None):
    held = await place_hold(client, clinic.public, setup, start)
    body = booking_body(held, email or f"{uuid.uuid4().hex[:8]}@patients.test")
    body["patient"]["name"] = name
    r = await client.post(f"{clinic.public}/bookings", json=body, headers=idem())
    assert r.status_code == 201, r.text
    return r.json()


async def audit_rows(clinic, **where):
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch("SELECT * FROM audit_events ORDER BY id")
    return [dict(r) for r in rows if all(r[k] == v for k, v in where.items())]


async def test_day_and_week_show_appointments_by_specialist(client, clinic):
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant, days=1, hour=10)
    booked = await book(client, clinic, setup, start, name="Ada Lovelace")
    rec = await add_member(clinic, "receptionist")
    async with browser(client) as web:
        await sign_in(web, rec)
        day = start.date().isoformat()
        page = await web.get(staff_url(clinic, f"/agenda?day={day}"))
        assert page.status_code == 200
        assert "Ada Lovelace" in page.text and "10:00–10:30" in page.text
        assert str(booked["appointment_id"]) in page.text
        assert "Dr Test" in page.text
        week = await web.get(staff_url(clinic, f"/agenda?view=week&day={day}"))
        # The week shows a summary per specialist and day that opens the day, no names.
        assert "week-grid" in week.text and "Ada Lovelace" not in week.text
        cell = re.search(r'<a class="cell-sum" href="([^"]+)" data-cell>(.*?)</a>', week.text)
        assert cell, week.text[-3000:]
        assert f"day={day}" in cell.group(1).replace("&amp;", "&")
        assert cell.group(1).endswith(f"#h-{setup.specialist_id}")
        text = re.sub(r"<[^>]+>", "", cell.group(2))
        assert "1 appointment " in text and "10:00–10:30" in text and "1 booked" in text
        # In another zone the same appointment is shown at that zone's time.
        other = await web.get(staff_url(clinic, f"/agenda?day={day}&tz=Europe/London"))
        assert "09:00–09:30" in other.text
        # The fragment the live page refetches.
        frag = await web.get(staff_url(clinic, f"/agenda?day={day}&fragment=1"))
        assert frag.text.lstrip().startswith('<div class="agenda-grid-wrap"')
        # A zone with a "+" stays itself in the page's links (not a space).
        plus = await web.get(staff_url(clinic, f"/agenda?view=week&day={day}&tz=Etc/GMT%2B1"))
        assert plus.status_code == 200 and "tz=Etc/GMT%2B1" in plus.text
        assert "tz=Etc/GMT+1" not in plus.text
        bad = await web.get(staff_url(clinic, "/agenda?tz=Mars/Base"))
        assert bad.status_code == 422


async def test_a_specialist_sees_only_their_own_column_and_appointments(client, clinic):
    spec = await add_member(clinic, "specialist", name="Sam Special")
    mine = await add_specialist(clinic.tenant, name="Dr Mine", staff_user=spec.id)
    other = await bookable(clinic.tenant)
    start = slot(clinic.tenant, days=1, hour=11)
    booked = await book(client, clinic, other, start, name="Someone Else")
    async with browser(client) as web:
        await sign_in(web, spec)
        page = await web.get(staff_url(clinic, f"/agenda?day={start.date().isoformat()}"))
        assert "Dr Mine" in page.text and "Dr Test" not in page.text
        assert "Someone Else" not in page.text
        r = await web.get(staff_url(clinic, f"/appointments/{booked['appointment_id']}"))
        assert r.status_code == 404
        assert (await web.get(staff_url(clinic, "/patients"))).status_code == 403
    assert mine


async def test_closures_and_days_off_are_shaded(client, clinic):
    setup = await bookable(clinic.tenant)
    day = slot(clinic.tenant, days=2).date()
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "INSERT INTO date_overrides (specialist_id, dates, kind, reason) "
            "VALUES ($1, daterange($2::date, $2::date + 1), 'unavailable', 'sick')",
            setup.specialist_id,
            day,
        )
        await conn.execute(
            "INSERT INTO closures (dates, reason) "
            "VALUES (daterange($1::date, $1::date + 1), 'Holiday')",
            day + timedelta(days=1),
        )
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        await sign_in(web, admin)
        page = await web.get(staff_url(clinic, f"/agenda?day={day.isoformat()}"))
        assert "Day off (sick)" in page.text and 'class="spec-col off"' in page.text
        next_day = day + timedelta(days=1)
        page = await web.get(staff_url(clinic, f"/agenda?day={next_day}"))
        assert "Clinic closed: Holiday" in page.text


async def test_panel_and_patient_record_are_audited_and_admin_sees_the_log(client, clinic):
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant, days=1, hour=12)
    booked = await book(client, clinic, setup, start, name="Grace Hopper", email="grace@x.test")
    rec = await add_member(clinic, "receptionist", name="Rita Desk")
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        await sign_in(web, rec)
        panel = await web.get(staff_url(clinic, f"/appointments/{booked['appointment_id']}"))
        assert panel.status_code == 200
        assert "Grace Hopper" in panel.text and "grace@x.test" in panel.text
        assert "€50.00" in panel.text or "50.00" in panel.text
        search = await web.get(staff_url(clinic, "/patients?q=hopper"))
        assert "Grace Hopper" in search.text
        patient_id = (await audit_rows(clinic, subject="appointment"))[0]["patient_id"]
        record = await web.get(staff_url(clinic, f"/patients/{patient_id}"))
        assert record.status_code == 200 and "Access log" not in record.text
    views = await audit_rows(clinic, patient_id=patient_id)
    assert [(r["subject"], r["staff_role"], r["action"]) for r in views] == [
        ("appointment", "receptionist", "view"),
        ("patient", "receptionist", "view"),
    ]
    assert views[0]["client_addr"] == "127.0.0.1"
    async with browser(client) as web:
        await sign_in(web, admin)
        record = await web.get(staff_url(clinic, f"/patients/{patient_id}"))
        assert "Access log" in record.text and "Rita Desk" in record.text
    async with tenant_tx(clinic.tenant) as conn:
        try:
            await conn.execute("DELETE FROM audit_events")
        except Exception as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError("audit rows could be deleted")


async def test_no_patient_data_in_the_application_log(client, clinic, caplog):
    caplog.set_level(logging.DEBUG)
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant, days=1, hour=14)
    booked = await book(
        client, clinic, setup, start, name="Zelda Secretname", email="zelda.secret@x.test"
    )
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        await sign_in(web, admin)
        await web.get(staff_url(clinic, f"/agenda?day={start.date().isoformat()}"))
        await web.get(staff_url(clinic, f"/appointments/{booked['appointment_id']}"))
        await web.get(staff_url(clinic, "/patients?q=Secretname"))
        await web.get(staff_url(clinic, "/patients/not-a-uuid"))
    async with tenant_tx(clinic.tenant) as conn:  # something the app does log
        from tenants import password_links

        await password_links.request_reset(conn, clinic.slug, admin.email)
    # The test client's own request log (httpx) is not the application's.
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "staff mail queued" in text  # the log was captured
    for secret in ("Zelda", "Secretname", "zelda.secret"):
        assert secret not in text


async def test_a_hold_is_shown_without_a_link_to_its_panel(client, clinic):
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant, days=1, hour=11)
    held = await place_hold(client, clinic.public, setup, start)
    rec = await add_member(clinic, "receptionist")
    async with browser(client) as web:
        await sign_in(web, rec)
        page = await web.get(staff_url(clinic, f"/agenda?day={start.date().isoformat()}"))
        assert page.status_code == 200
        block = re.search(r'<li class="appt status-held".*?</li>', page.text, re.S)
        assert block, page.text[-3000:]
        assert "<a " not in block.group(0) and 'tabindex="0"' in block.group(0)
        assert f'data-appt="{held["hold_id"]}"' in block.group(0)
        panel = await web.get(staff_url(clinic, f"/appointments/{held['hold_id']}"))
        assert panel.status_code == 404
