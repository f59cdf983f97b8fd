"""Daylight saving, odd offsets and the documented rule for nonexistent/ambiguous local times.

Rule (RFC 5545, PEP 495's fold=0; docs/availability.md): a local time is read with the UTC
offset in force before the transition — a nonexistent one moves forward by the gap (02:30 ->
03:30), an ambiguous one is its FIRST occurrence.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar

from carebook.tenancy import tenant_tx
from carebook.zones import first_instant
from tests.calendars.engine_helpers import hhmm, local_day, slots
from tests.factories import add_calendar, add_specialist

NINE_TO_FIVE = [f"{h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 30)]
TRANSITIONS_2026 = [
    ("America/New_York", "2026-03-08"),
    ("America/New_York", "2026-11-01"),
    ("Europe/London", "2026-03-29"),
    ("Europe/London", "2026-10-25"),
    ("Australia/Sydney", "2026-04-05"),
    ("Australia/Sydney", "2026-10-04"),
    ("Australia/Lord_Howe", "2026-04-05"),
    ("Australia/Lord_Howe", "2026-10-04"),
]


def _utc(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.mark.parametrize(("zone", "day"), TRANSITIONS_2026)
async def test_nine_to_five_on_transition_days(make_clinic, zone, day):
    z = ZoneInfo(zone)
    start = datetime.fromisoformat(day).replace(tzinfo=z)
    # It really is a transition day: the offset at midnight differs from the next midnight's.
    assert (
        start.utcoffset()
        != (start.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=z).utcoffset()
    )
    clinic = await make_clinic(timezone=zone)
    sid = await add_specialist(clinic.tenant, timezone=zone)
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day(day, zone))
    assert hhmm(rows, zone) == NINE_TO_FIVE
    assert len(rows) == 16
    for slot_start, slot_end, _ in rows:
        assert slot_end - slot_start == timedelta(minutes=30)
        assert slot_start.astimezone(z).date().isoformat() == day
    # 8 real hours from the first start to the last end, whatever the offset that day.
    assert rows[-1][1] - rows[0][0] == timedelta(hours=8)


@pytest.mark.parametrize(
    ("zone", "first_utc"),
    [("Asia/Kolkata", "2026-07-01 03:30"), ("Asia/Kathmandu", "2026-07-01 03:15")],
)
async def test_half_and_quarter_hour_offsets_keep_the_local_grid(make_clinic, zone, first_utc):
    clinic = await make_clinic(timezone="UTC")
    sid = await add_specialist(clinic.tenant, timezone=zone)
    cal = await add_calendar(clinic.tenant, [sid], duration=45)
    rows = await slots(clinic.tenant, cal["id"], *local_day("2026-07-01", zone))
    assert rows[0][0] == _utc(first_utc)
    assert hhmm(rows, zone) == [
        "09:00",
        "09:45",
        "10:30",
        "11:15",
        "12:00",
        "12:45",
        "13:30",
        "14:15",
        "15:00",
        "15:45",
    ]


async def test_schedule_across_the_nonexistent_hour(make_clinic):
    clinic = await make_clinic(timezone="America/New_York")
    sid = await add_specialist(
        clinic.tenant, timezone="America/New_York", weekly={7: [("01:00", "04:00")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day("2026-03-08", "America/New_York"))
    # 01:00 EST .. 04:00 EDT is two real hours; 02:00-03:00 does not exist.
    assert [r[0] for r in rows] == [
        _utc("2026-03-08 06:00") + timedelta(minutes=30 * k) for k in range(4)
    ]
    assert hhmm(rows, "America/New_York") == ["01:00", "01:30", "03:00", "03:30"]


async def test_schedule_starting_inside_the_gap_uses_the_offset_before_the_jump(make_clinic):
    clinic = await make_clinic(timezone="America/New_York")
    sid = await add_specialist(
        clinic.tenant, timezone="America/New_York", weekly={7: [("02:30", "05:00")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day("2026-03-08", "America/New_York"))
    # 02:30 is read as 02:30 EST = 07:30Z = 03:30 EDT.
    assert rows[0][0] == _utc("2026-03-08 07:30")
    assert hhmm(rows, "America/New_York") == ["03:30", "04:00", "04:30"]


async def test_schedule_inside_the_repeated_hour_uses_the_first_occurrence(make_clinic):
    clinic = await make_clinic(timezone="America/New_York")
    sid = await add_specialist(
        clinic.tenant, timezone="America/New_York", weekly={7: [("01:00", "01:30")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=15)
    rows = await slots(clinic.tenant, cal["id"], *local_day("2026-11-01", "America/New_York"))
    # 01:00-01:30 happens twice; the rule picks the first (EDT, UTC-4): 05:00Z-05:30Z.
    assert [r[0] for r in rows] == [_utc("2026-11-01 05:00"), _utc("2026-11-01 05:15")]
    assert all(
        r[0].astimezone(ZoneInfo("America/New_York")).utcoffset() == timedelta(hours=-4)
        for r in rows
    )


async def test_schedule_up_to_the_end_of_the_repeated_hour_covers_both_occurrences(make_clinic):
    clinic = await make_clinic(timezone="America/New_York")
    sid = await add_specialist(
        clinic.tenant, timezone="America/New_York", weekly={7: [("01:00", "02:00")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day("2026-11-01", "America/New_York"))
    # The first 01:00 (EDT, 05:00Z) to 02:00 EST (07:00Z), which exists once: two real hours.
    assert [r[0] for r in rows] == [
        _utc("2026-11-01 05:00") + timedelta(minutes=30 * k) for k in range(4)
    ]


async def test_schedule_ending_in_the_repeated_hour(make_clinic):
    clinic = await make_clinic(timezone="America/New_York")
    sid = await add_specialist(
        clinic.tenant, timezone="America/New_York", weekly={7: [("00:00", "01:30")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day("2026-11-01", "America/New_York"))
    # 00:00 EDT (04:00Z) to the first 01:30 (EDT, 05:30Z): 1.5 real hours, 3 slots.
    assert [r[0] for r in rows] == [
        _utc("2026-11-01 04:00") + timedelta(minutes=30 * k) for k in range(3)
    ]


async def test_day_starting_at_one_on_fall_back_day_opens_at_the_first_one(make_clinic):
    """Issue 17: staff arrive at the first 01:00, so bookings open then, not an hour later."""
    clinic = await make_clinic(timezone="America/New_York")
    sid = await add_specialist(
        clinic.tenant, timezone="America/New_York", weekly={7: [("01:00", "05:00")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day("2026-11-01", "America/New_York"))
    # The first 01:00 (EDT, 05:00Z) to 05:00 EST (10:00Z): five real hours, ten slots, the
    # repeated hour twice (01:00 and 01:30 EDT, then 01:00 and 01:30 EST).
    assert [r[0] for r in rows] == [
        _utc("2026-11-01 05:00") + timedelta(minutes=30 * k) for k in range(10)
    ]
    assert hhmm(rows, "America/New_York") == [
        "01:00", "01:30", "02:00", "02:30", "03:00", "03:30", "04:00", "04:30"
    ]  # fmt: skip


async def test_repeated_midnight_starts_the_day_and_ends_a_closure_at_its_first_occurrence(
    make_clinic,
):
    """Havana falls back from 01:00 to 00:00: midnight of 2026-11-01 happens twice."""
    zone = "America/Havana"
    clinic = await make_clinic(timezone=zone)
    sid = await add_specialist(clinic.tenant, timezone=zone, weekly={7: [("00:00", "02:00")]})
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    async with tenant_tx(clinic.tenant) as conn:  # the day before is closed
        await conn.execute("INSERT INTO closures (dates) VALUES ('[2026-10-31,2026-11-01)')")
    start, end = (t.astimezone(UTC) for t in local_day("2026-11-01", zone))
    # The edges' day start (slots, staff day list): the first midnight. (PEP 495: an aware
    # datetime in a repeated hour never equals one of another zone, hence astimezone(UTC).)
    assert start == _utc("2026-11-01 04:00")
    assert first_instant(date(2026, 11, 1), ZoneInfo(zone)).astimezone(UTC) == start
    rows = await slots(clinic.tenant, cal["id"], start, end)
    # The first 00:00 (CDT, 04:00Z) to 02:00 CST (07:00Z): three real hours, six slots; the
    # closure of 31 October ends at that first midnight too.
    assert [r[0] for r in rows] == [_utc("2026-11-01 04:00") + timedelta(minutes=30 * k)
                                    for k in range(6)]  # fmt: skip


LOCAL_INSTANT_ZONES = [
    "America/New_York",
    "America/Havana",
    "Asia/Beirut",
    "Australia/Lord_Howe",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "UTC",
]


async def test_local_instant_is_pythons_fold_zero_reading_all_year(clinic):
    """local_instant() (every local -> instant conversion in SQL) equals fold=0, every quarter
    hour of 2026 in zones with 1-hour, 30-minute, midnight and no transitions."""
    locals_ = [datetime(2026, 1, 1) + timedelta(minutes=15 * k) for k in range(365 * 96)]
    async with tenant_tx(clinic.tenant) as conn:
        for zone in LOCAL_INSTANT_ZONES:
            got = await conn.fetchval(
                "SELECT array_agg(local_instant(l, $2) ORDER BY n) "
                "FROM unnest($1::timestamp[]) WITH ORDINALITY AS u(l, n)",
                locals_,
                zone,
            )
            z = ZoneInfo(zone)
            want = [local.replace(tzinfo=z, fold=0).astimezone(UTC) for local in locals_]
            bad = [(local, g, w) for local, g, w in zip(locals_, got, want, strict=True) if g != w]
            assert not bad, (zone, bad[:3])


async def test_local_instant_cases_named_in_the_docs(clinic):
    """Gap → moves forward by the gap; repeat → first occurrence (both: fold=0)."""
    cases = [
        ("America/New_York", "2026-03-08 02:30", "2026-03-08 07:30"),  # 03:30 EDT
        ("America/New_York", "2026-11-01 01:30", "2026-11-01 05:30"),  # 01:30 EDT
        ("Australia/Lord_Howe", "2026-10-04 02:15", "2026-10-03 15:45"),
        ("Australia/Lord_Howe", "2026-04-05 01:45", "2026-04-04 14:45"),
        ("Europe/London", "2026-03-29 01:30", "2026-03-29 01:30"),
        ("Europe/London", "2026-10-25 01:30", "2026-10-25 00:30"),
        ("America/Havana", "2026-11-01 00:00", "2026-11-01 04:00"),
        ("Asia/Beirut", "2026-10-24 23:30", "2026-10-24 20:30"),
    ]
    async with tenant_tx(clinic.tenant) as conn:
        for zone, local, utc in cases:
            got = await conn.fetchval(
                "SELECT local_instant($1::timestamp, $2)", datetime.fromisoformat(local), zone
            )
            assert got == _utc(utc), (zone, local)


async def test_fall_back_hour_over_http_slots_hold_booking_and_ics(client, make_clinic):
    """The first 01:00 of New York's 2027 fall-back day through every edge: the slots list,
    the hold, the booking and the .ics file all name 01:00 EDT (05:00Z)."""
    clinic = await make_clinic(timezone="America/New_York")
    sid = await add_specialist(
        clinic.tenant, timezone="America/New_York", weekly={7: [("01:00", "03:00")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=30, horizon=730)
    r = await client.get(
        f"{clinic.public}/calendars/{cal['id']}/slots",
        params={"start": "2027-11-07", "end": "2027-11-07"},
    )
    assert r.status_code == 200, r.text
    starts = [s["start"] for s in r.json()["days"][0]["slots"]]
    assert starts == [
        "2027-11-07T01:00:00-04:00",
        "2027-11-07T01:30:00-04:00",
        "2027-11-07T01:00:00-05:00",
        "2027-11-07T01:30:00-05:00",
        "2027-11-07T02:00:00-05:00",
        "2027-11-07T02:30:00-05:00",
    ]
    r = await client.post(
        f"{clinic.public}/holds", json={"calendar_id": str(cal["id"]), "start": starts[0]}
    )
    assert r.status_code == 201, r.text
    hold = r.json()
    r = await client.post(
        f"{clinic.public}/bookings",
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={
            "hold_id": hold["hold_id"],
            "token": hold["token"],
            "patient": {"name": "Pat Doe", "email": "pat@example.test",
                        "timezone": "America/New_York"},
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    booked = r.json()
    assert datetime.fromisoformat(booked["start"]) == _utc("2027-11-07 05:00")
    token = httpx.URL(booked["manage_url"]).params["token"]
    r = await client.get(
        f"/c/{clinic.slug}/appointments/{booked['appointment_id']}.ics", params={"token": token}
    )
    assert r.status_code == 200
    (event,) = Calendar.from_ical(r.content).walk("VEVENT")
    assert event.decoded("DTSTART") == _utc("2027-11-07 05:00")
    assert event.decoded("DTEND") == _utc("2027-11-07 05:30")
