"""The public slots endpoint, the public catalog and calendar-by-slug."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from calendars.schemas import Catalog, SlotOut, SlotsOut
from carebook.tenancy import tenant_tx
from tests.factories import add_calendar, add_specialist
from tests.helpers import problem


async def test_shape_days_and_merged_specialists(client, clinic, pin_clock):
    pin_clock(datetime(2026, 6, 1, tzinfo=UTC))
    a = await add_specialist(clinic.tenant, weekly={3: [("09:00", "10:00")]})
    b = await add_specialist(clinic.tenant, weekly={3: [("09:30", "10:30")]})
    cal = await add_calendar(clinic.tenant, [a, b], duration=30)
    r = await client.get(
        f"{clinic.public}/calendars/{cal['id']}/slots",
        params={"start": "2026-06-09", "end": "2026-06-11"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"calendar_id", "timezone", "duration_minutes", "days"}
    assert body["calendar_id"] == str(cal["id"])
    assert body["timezone"] == "Europe/Berlin"
    assert body["duration_minutes"] == 30
    assert [d["date"] for d in body["days"]] == ["2026-06-09", "2026-06-10", "2026-06-11"]
    assert body["days"][0]["slots"] == [] and body["days"][2]["slots"] == []
    assert body["days"][1]["slots"] == [
        {
            "start": "2026-06-10T09:00:00+02:00",
            "end": "2026-06-10T09:30:00+02:00",
            "specialist_ids": [str(a)],
        },
        {
            "start": "2026-06-10T09:30:00+02:00",
            "end": "2026-06-10T10:00:00+02:00",
            "specialist_ids": sorted([str(a), str(b)]),
        },
        {
            "start": "2026-06-10T10:00:00+02:00",
            "end": "2026-06-10T10:30:00+02:00",
            "specialist_ids": [str(b)],
        },
    ]
    only_b = await client.get(
        f"{clinic.public}/calendars/{cal['id']}/slots",
        params={"start": "2026-06-10", "end": "2026-06-10", "specialist_id": str(b)},
    )
    assert [s["specialist_ids"] for s in only_b.json()["days"][0]["slots"]] == [[str(b)]] * 2


async def test_berlin_specialist_seen_from_new_york(client, clinic, pin_clock):
    pin_clock(datetime(2026, 3, 1, tzinfo=UTC))
    sid = await add_specialist(
        clinic.tenant,
        timezone="Europe/Berlin",
        weekly={5: [("09:00", "17:00")], 6: [("00:00", "02:00")]},
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=60)
    r = await client.get(
        f"{clinic.public}/calendars/{cal['id']}/slots",
        params={"start": "2026-03-20", "end": "2026-03-20", "tz": "America/New_York"},
    )
    body = r.json()
    assert body["timezone"] == "America/New_York"
    # 2026-03-20: New York is already on EDT (-4), Berlin still on CET (+1): 5 hours apart.
    starts = [s["start"] for s in body["days"][0]["slots"]]
    assert starts[0] == "2026-03-20T04:00:00-04:00"
    assert starts[-2:] == ["2026-03-20T19:00:00-04:00", "2026-03-20T20:00:00-04:00"]  # Sat. 0-2
    assert len(starts) == 8 + 2
    assert all(s.endswith("-04:00") for s in starts)


async def test_every_date_listed_even_without_slots_and_unlisted_calendar_works(client, clinic):
    cal = await add_calendar(clinic.tenant, [], listed=False)
    r = await client.get(
        f"{clinic.public}/calendars/{cal['id']}/slots",
        params={"start": "2026-12-01", "end": "2026-12-31"},
    )
    assert r.status_code == 200
    assert len(r.json()["days"]) == 31
    assert all(d["slots"] == [] for d in r.json()["days"])


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"start": "2026-06-10", "end": "2026-06-09"}, "end", "invalid_range"),
        ({"start": "2026-06-01", "end": "2026-08-02"}, "end", "range_too_long"),
        ({"start": "2026-02-30", "end": "2026-03-01"}, "start", "invalid_date"),
        ({"start": "2026-06-01", "end": "tomorrow"}, "end", "invalid_date"),
        ({"start": "20260601", "end": "2026-06-02"}, "start", "invalid_date"),
        ({"start": "2026-06-01", "end": "2026-06-02", "tz": "Mars/Base"}, "tz", "invalid_timezone"),
    ],
)
async def test_bad_queries_are_422_naming_the_field(client, clinic, params, field, code):
    cal = await add_calendar(clinic.tenant, [])
    r = await client.get(f"{clinic.public}/calendars/{cal['id']}/slots", params=params)
    body = problem(r, 422, code)
    assert body["errors"][0]["field"] == field


async def test_62_days_is_the_limit(client, clinic):
    cal = await add_calendar(clinic.tenant, [])
    ok = await client.get(
        f"{clinic.public}/calendars/{cal['id']}/slots",
        params={"start": "2026-06-01", "end": "2026-08-01"},
    )
    assert ok.status_code == 200 and len(ok.json()["days"]) == 62


async def test_missing_params_and_unknown_or_inactive_calendar(client, clinic):
    cal = await add_calendar(clinic.tenant, [], active=False)
    r = await client.get(
        f"{clinic.public}/calendars/{cal['id']}/slots",
        params={"start": "2026-06-01", "end": "2026-06-02"},
    )
    problem(r, 404, "calendar_not_found")
    r = await client.get(
        f"{clinic.public}/calendars/00000000-0000-0000-0000-000000000000/slots",
        params={"start": "2026-06-01", "end": "2026-06-02"},
    )
    problem(r, 404, "calendar_not_found")
    r = await client.get(f"{clinic.public}/calendars/{cal['id']}/slots", params={"start": "x"})
    assert r.status_code in (400, 422)


async def test_public_catalog_lists_only_listed_active(client, clinic):
    a = await add_specialist(clinic.tenant, name="Ann")
    b = await add_specialist(clinic.tenant, name="Bob")
    listed = await add_calendar(clinic.tenant, [a, b], name="Std", price_minor=8000)
    await add_calendar(
        clinic.tenant, [a], name="Hidden", listed=False, service_id=listed["service_id"]
    )
    await add_calendar(
        clinic.tenant, [a], name="Off", active=False, service_id=listed["service_id"]
    )
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute("UPDATE specialists SET active = false WHERE id = $1", b)
    r = await client.get(f"{clinic.public}/catalog")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["clinic"] == {
        "slug": clinic.slug,
        "name": f"Clinic {clinic.slug}",
        "timezone": "Europe/Berlin",
    }
    [service] = body["services"]
    [cal] = service["calendars"]
    assert cal["id"] == str(listed["id"]) and cal["price_minor"] == 8000
    assert cal["currency"] == "EUR" and cal["duration_minutes"] == 30 and cal["kind"] == "standard"
    assert cal["specialists"] == [{"id": str(a), "name": "Ann"}]


async def test_calendar_by_slug_includes_unlisted_not_inactive(client, clinic):
    hidden = await add_calendar(clinic.tenant, [], listed=False, slug="direct-link")
    await add_calendar(clinic.tenant, [], active=False, slug="gone")
    r = await client.get(f"{clinic.public}/calendars/by-slug/direct-link")
    assert r.status_code == 200 and r.json()["id"] == str(hidden["id"])
    problem(await client.get(f"{clinic.public}/calendars/by-slug/gone"), 404, "calendar_not_found")
    problem(await client.get(f"{clinic.public}/calendars/by-slug/nope"), 404)


@pytest.mark.parametrize(
    ("tz", "first"),
    [
        ("Asia/Kathmandu", "2026-06-10T12:45:00+05:45"),
        ("America/St_Johns", "2026-06-10T04:30:00-02:30"),
        ("UTC", "2026-06-10T07:00:00+00:00"),
    ],
)
async def test_offsets_with_minutes_on_the_wire(client, clinic, pin_clock, tz, first):
    pin_clock(datetime(2026, 6, 1, tzinfo=UTC))
    sid = await add_specialist(
        clinic.tenant, timezone="Europe/Berlin", weekly={3: [("09:00", "10:00")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=60)
    r = await client.get(
        f"{clinic.public}/calendars/{cal['id']}/slots",
        params={"start": "2026-06-10", "end": "2026-06-10", "tz": tz},
    )
    [slot] = r.json()["days"][0]["slots"]
    assert slot["start"] == first
    assert datetime.fromisoformat(slot["start"]) == datetime(2026, 6, 10, 7, tzinfo=UTC)


async def test_days_say_which_clinic_closure_covers_them(client, clinic, pin_clock):
    """Issue 17 item 10: the page can say "Closed — Christmas holidays" instead of nothing."""
    pin_clock(datetime(2026, 12, 1, tzinfo=UTC))
    sid = await add_specialist(clinic.tenant, weekly={d: [("09:00", "17:00")] for d in range(1, 8)})
    cal = await add_calendar(clinic.tenant, [sid], duration=60)
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "INSERT INTO closures (dates, reason) VALUES "
            "('[2026-12-24,2026-12-27)', 'Christmas holidays'), ('[2026-12-31,2027-01-01)', '')"
        )
    url = f"{clinic.public}/calendars/{cal['id']}/slots"
    days = (await client.get(url, params={"start": "2026-12-23", "end": "2026-12-31"})).json()
    closed = {d["date"]: d["closed"] for d in days["days"]}
    assert closed == {
        "2026-12-23": None, "2026-12-24": "Christmas holidays", "2026-12-25": "Christmas holidays",
        "2026-12-26": "Christmas holidays", "2026-12-27": None, "2026-12-28": None,
        "2026-12-29": None, "2026-12-30": None, "2026-12-31": "",
    }  # fmt: skip
    assert all(not d["slots"] for d in days["days"] if d["closed"] is not None)
    # Seen from New York, Berlin's closed 24th starts on the evening of the 23rd: both days
    # touch the closure; it ends at 18:00 on the 26th there, so the 27th is open.
    params = {"start": "2026-12-23", "end": "2026-12-27", "tz": "America/New_York"}
    ny = await client.get(url, params=params)
    seen = {d["date"]: d["closed"] for d in ny.json()["days"]}
    assert seen["2026-12-23"] == seen["2026-12-26"] == "Christmas holidays"
    assert seen["2026-12-27"] is None


async def test_documents_written_by_postgres_escape_text_and_match_the_schema(
    client, clinic, pin_clock
):
    """Issue 18 item 4: PostgreSQL writes the slots and catalog JSON; text stays intact."""
    pin_clock(datetime(2026, 12, 1, tzinfo=UTC))
    sid = await add_specialist(
        clinic.tenant, name='Dr "Zoë" \\ Ünal', weekly={3: [("09:00", "10:00")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=60, name='Check-up "plus" \\ ✓')
    reason = 'Team day "offsite"\\ back\tsoon\nß — 休'
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "INSERT INTO closures (dates, reason) VALUES ('[2026-12-24,2026-12-25)', $1)", reason
        )
    r = await client.get(
        f"{clinic.public}/calendars/{cal['id']}/slots",
        params={"start": "2026-12-23", "end": "2026-12-24"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = msgspec.json.decode(r.content, type=SlotsOut)  # exactly the declared schema
    assert [d.closed for d in doc.days] == [None, reason]
    assert doc.days[0].slots == [
        SlotOut("2026-12-23T09:00:00+01:00", "2026-12-23T10:00:00+01:00", [str(sid)])
    ]
    catalog = await client.get(f"{clinic.public}/catalog")
    assert catalog.headers["content-type"] == "application/json"
    body = msgspec.json.decode(catalog.content, type=Catalog)
    [service] = body.services
    assert service.name == 'Check-up "plus" \\ ✓ service'
    assert [c.name for c in service.calendars] == ['Check-up "plus" \\ ✓']
    assert [s.name for s in service.calendars[0].specialists] == ['Dr "Zoë" \\ Ünal']
    r = await client.get(
        f"{clinic.public}/calendars/{cal['id']}/slots",
        params={"start": "2026-12-23", "end": "2026-12-24", "specialist_id": str(cal["id"])},
    )
    problem(r, 404, "specialist_not_found")
