"""Daylight saving, odd offsets and the documented rule for nonexistent/ambiguous local times.

Rule (PostgreSQL's own, docs/availability.md): a nonexistent local time is read with the UTC
offset in force before the jump; an ambiguous one as its second occurrence (the later instant).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

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


async def test_schedule_inside_the_repeated_hour_uses_the_second_occurrence(make_clinic):
    clinic = await make_clinic(timezone="America/New_York")
    sid = await add_specialist(
        clinic.tenant, timezone="America/New_York", weekly={7: [("01:00", "02:00")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day("2026-11-01", "America/New_York"))
    # 01:00-02:00 happens twice; the rule picks the second (EST, UTC-5): 06:00Z-07:00Z.
    assert [r[0] for r in rows] == [_utc("2026-11-01 06:00"), _utc("2026-11-01 06:30")]
    assert all(
        r[0].astimezone(ZoneInfo("America/New_York")).utcoffset() == timedelta(hours=-5)
        for r in rows
    )


async def test_schedule_ending_in_the_repeated_hour(make_clinic):
    clinic = await make_clinic(timezone="America/New_York")
    sid = await add_specialist(
        clinic.tenant, timezone="America/New_York", weekly={7: [("00:00", "01:30")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day("2026-11-01", "America/New_York"))
    # 00:00 EDT (04:00Z) to the second 01:30 (EST, 06:30Z): 2.5 real hours, 5 slots.
    assert [r[0] for r in rows] == [
        _utc("2026-11-01 04:00") + timedelta(minutes=30 * k) for k in range(5)
    ]


async def test_postgres_rule_matches_the_documented_python_equivalent(clinic):
    """Gap → offset before the jump (fold=0); repeat → second occurrence (fold=1)."""
    from carebook.tenancy import tenant_tx

    cases = [
        ("America/New_York", "2026-03-08 02:30", 0),
        ("America/New_York", "2026-11-01 01:30", 1),
        ("Australia/Lord_Howe", "2026-10-04 02:15", 0),
        ("Australia/Lord_Howe", "2026-04-05 01:45", 1),
        ("Europe/London", "2026-03-29 01:30", 0),
        ("Europe/London", "2026-10-25 01:30", 1),
    ]
    async with tenant_tx(clinic.tenant) as conn:
        for zone, local, fold in cases:
            got = await conn.fetchval(
                "SELECT $1::timestamp AT TIME ZONE $2", datetime.fromisoformat(local), zone
            )
            want = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone), fold=fold)
            assert got == want.astimezone(UTC), (zone, local)
