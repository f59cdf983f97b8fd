"""The seven rules of the engine, one behaviour per test (scheduling spec §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from carebook.tenancy import tenant_tx
from tests.calendars.engine_helpers import add_appointment, hhmm, local_day, slots
from tests.factories import add_calendar, add_specialist

BERLIN = "Europe/Berlin"
DAY = "2026-06-10"  # a Wednesday (isodow 3)


def at(hm: str, day: str = DAY) -> datetime:
    """A Berlin wall-clock time on ``day`` (summer: UTC+2) as a UTC instant."""
    return datetime.fromisoformat(f"{day} {hm}").replace(tzinfo=UTC) - timedelta(hours=2)


async def test_several_intervals_a_day_each_anchor_their_grid(clinic):
    sid = await add_specialist(clinic.tenant, weekly={3: [("09:00", "10:00"), ("13:10", "14:30")]})
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN))
    assert hhmm(rows, BERLIN) == ["09:00", "09:30", "13:10", "13:40"]


async def test_touching_intervals_form_one_window_and_slots_may_cross_them(clinic):
    sid = await add_specialist(clinic.tenant, weekly={3: [("09:00", "09:45"), ("09:45", "11:00")]})
    cal = await add_calendar(clinic.tenant, [sid], duration=60, interval=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN))
    assert hhmm(rows, BERLIN) == ["09:00", "09:30", "10:00"]


async def test_slot_interval_differs_from_duration(clinic):
    sid = await add_specialist(clinic.tenant, weekly={3: [("09:00", "11:00")]})
    cal = await add_calendar(clinic.tenant, [sid], duration=60, interval=20)
    rows = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN))
    assert hhmm(rows, BERLIN) == ["09:00", "09:20", "09:40", "10:00"]


async def test_24_00_end_and_night_shift_across_midnight(clinic):
    sid = await add_specialist(
        clinic.tenant, weekly={3: [("22:00", "24:00")], 4: [("00:00", "01:00")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=45)
    rows = await slots(clinic.tenant, cal["id"], at("21:00"), at("02:00", "2026-06-11"))
    # One contiguous window 22:00-01:00: the grid runs on across midnight.
    assert [r[0] for r in rows] == [
        at("22:00"),
        at("22:45"),
        at("23:30"),
        at("00:15", "2026-06-11"),
    ]


async def test_several_specialists_are_merged_per_start(clinic, client):
    a = await add_specialist(clinic.tenant, weekly={3: [("09:00", "10:00")]})
    b = await add_specialist(clinic.tenant, weekly={3: [("09:30", "10:30")]})
    cal = await add_calendar(clinic.tenant, [a, b], duration=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN))
    assert sorted((r[0], r[2]) for r in rows) == sorted(
        [(at("09:00"), a), (at("09:30"), a), (at("09:30"), b), (at("10:00"), b)]
    )
    only_b = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN), specialist=b)
    assert {r[2] for r in only_b} == {b}


async def test_inactive_or_unassigned_specialists_and_inactive_calendars_give_nothing(clinic):
    a = await add_specialist(clinic.tenant)
    b = await add_specialist(clinic.tenant)
    cal = await add_calendar(clinic.tenant, [a])
    rows = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN))
    assert {r[2] for r in rows} == {a}
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute("UPDATE specialists SET active = false WHERE id = $1", a)
    assert await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN)) == []
    cal2 = await add_calendar(clinic.tenant, [b], active=False)
    assert await slots(clinic.tenant, cal2["id"], *local_day(DAY, BERLIN)) == []


async def test_buffer_after_appointments_including_other_calendars(clinic):
    sid = await add_specialist(clinic.tenant, buffer=15, weekly={3: [("09:00", "12:00")]})
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    other = await add_calendar(clinic.tenant, [sid], duration=60)
    # Booked 10:00-10:30 in the OTHER calendar: blocks [10:00, 10:45).
    await add_appointment(clinic.tenant, other["id"], sid, at("10:00"), 30, buffer=15)
    rows = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN))
    # 09:30 needs [09:30, 10:15) free (its own buffer) → blocked; 10:30 overlaps the buffer.
    assert hhmm(rows, BERLIN) == ["09:00", "11:00", "11:30"]
    # Grid never moves: nothing at 10:45 although it is free from there.
    assert "10:45" not in hhmm(rows, BERLIN)


async def test_holds_block_until_they_expire_and_cancelled_never_block(clinic):
    sid = await add_specialist(clinic.tenant, weekly={3: [("09:00", "10:00")]})
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    now = at("06:00")
    await add_appointment(
        clinic.tenant,
        cal["id"],
        sid,
        at("09:00"),
        30,
        status="held",
        hold_expires_at=now + timedelta(minutes=10),
    )
    await add_appointment(clinic.tenant, cal["id"], sid, at("09:30"), 30, status="cancelled")
    rows = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN), now=now)
    assert hhmm(rows, BERLIN) == ["09:30"]
    later = await slots(
        clinic.tenant, cal["id"], *local_day(DAY, BERLIN), now=now + timedelta(minutes=11)
    )
    assert hhmm(later, BERLIN) == ["09:00", "09:30"]
    ignoring = await slots(
        clinic.tenant, cal["id"], *local_day(DAY, BERLIN), now=now, ignore_blocking=True
    )
    assert hhmm(ignoring, BERLIN) == ["09:00", "09:30"]


async def test_overrides_day_off_custom_hours_and_ranges(clinic):
    sid = await add_specialist(clinic.tenant)
    cal = await add_calendar(clinic.tenant, [sid], duration=60)
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "INSERT INTO date_overrides (specialist_id, dates, kind, reason) "
            "VALUES ($1, '[2026-06-10,2026-06-12)', 'unavailable', 'holiday')",
            sid,
        )
        oid = await conn.fetchval(
            "INSERT INTO date_overrides (specialist_id, dates, kind) "
            "VALUES ($1, '[2026-06-12,2026-06-13)', 'custom_hours') RETURNING id",
            sid,
        )
        await conn.execute(
            "INSERT INTO override_intervals (override_id, starts, ends) VALUES "
            "($1, '07:15', '09:15'), ($1, '20:00', '21:00')",
            oid,
        )
    for day in ("2026-06-10", "2026-06-11"):
        assert await slots(clinic.tenant, cal["id"], *local_day(day, BERLIN)) == []
    custom = await slots(clinic.tenant, cal["id"], *local_day("2026-06-12", BERLIN))
    assert hhmm(custom, BERLIN) == ["07:15", "08:15", "20:00"]
    normal = await slots(clinic.tenant, cal["id"], *local_day("2026-06-13", BERLIN))
    assert len(normal) == 8


async def test_closures_use_clinic_dates(make_clinic):
    clinic = await make_clinic(timezone="America/New_York")
    # A Berlin specialist: their 09:00-17:00 on 2026-06-10 is 03:00-11:00 in New York.
    sid = await add_specialist(clinic.tenant, timezone=BERLIN)
    cal = await add_calendar(clinic.tenant, [sid], duration=60)
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "INSERT INTO closures (dates, reason) VALUES ('[2026-06-10,2026-06-11)', 'x')"
        )
    assert await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN)) == []
    assert len(await slots(clinic.tenant, cal["id"], *local_day("2026-06-11", BERLIN))) == 8


async def test_closure_evening_in_clinic_zone_cuts_part_of_a_foreign_day(make_clinic):
    clinic = await make_clinic(timezone="Asia/Tokyo")  # UTC+9: Berlin 09:00 = Tokyo 16:00
    sid = await add_specialist(clinic.tenant, timezone=BERLIN)
    cal = await add_calendar(clinic.tenant, [sid], duration=60)
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute("INSERT INTO closures (dates) VALUES ('[2026-06-11,2026-06-12)')")
    rows = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN))
    # Tokyo's 2026-06-11 starts at Berlin 17:00 on the 10th: the whole Berlin day stays open.
    assert len(rows) == 8
    rows = await slots(clinic.tenant, cal["id"], *local_day("2026-06-11", BERLIN))
    assert rows == []  # Berlin 09:00-17:00 on the 11th is Tokyo 16:00-24:00 on the 11th


async def test_special_hours_restrict_in_clinic_zone(make_clinic):
    clinic = await make_clinic(timezone="Europe/London")  # one hour behind Berlin
    sid = await add_specialist(clinic.tenant, timezone=BERLIN)
    cal = await add_calendar(
        clinic.tenant, [sid], duration=30, special_hours={3: [("10:15", "12:00")]}
    )
    rows = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN))
    # London 10:15-12:00 = Berlin 11:15-13:00; the grid starts at the window start.
    assert hhmm(rows, BERLIN) == ["11:15", "11:45", "12:15"]


async def test_active_window_limits_starts_and_anchors_the_grid(clinic):
    sid = await add_specialist(clinic.tenant, weekly={3: [("09:00", "12:00")]})
    cal = await add_calendar(
        clinic.tenant, [sid], duration=30, active_from=at("09:40"), active_until=at("11:10")
    )
    rows = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN))
    # Starts inside [09:40, 11:10) on a grid from 09:40; a slot may end after active_until.
    assert hhmm(rows, BERLIN) == ["09:40", "10:10", "10:40"]


async def test_notice_and_horizon_filter_but_never_move_the_grid(clinic):
    sid = await add_specialist(clinic.tenant, weekly={3: [("09:00", "12:00")]})
    cal = await add_calendar(clinic.tenant, [sid], duration=30, notice=100, horizon=1)
    now = at("08:05")  # earliest start 09:45; horizon ends 08:05 the next day
    rows = await slots(clinic.tenant, cal["id"], *local_day(DAY, BERLIN), now=now)
    assert hhmm(rows, BERLIN) == ["10:00", "10:30", "11:00", "11:30"]
    next_day = await slots(clinic.tenant, cal["id"], *local_day("2026-06-17", BERLIN), now=now)
    assert next_day == []
    # Horizon of 1 day from 09:01 the day before: only 09:00 starts before it ends.
    edge = await slots(
        clinic.tenant, cal["id"], *local_day(DAY, BERLIN), now=at("09:01") - timedelta(days=1)
    )
    assert hhmm(edge, BERLIN) == ["09:00"]


async def test_requested_range_does_not_move_the_grid(clinic):
    sid = await add_specialist(clinic.tenant, weekly={3: [("09:00", "12:00")]})
    cal = await add_calendar(clinic.tenant, [sid], duration=45)
    rows = await slots(clinic.tenant, cal["id"], at("09:50"), at("11:00"), now=at("00:00"))
    assert [r[0] for r in rows] == [at("10:30")]


async def test_slot_status_tells_free_taken_and_not_a_slot(clinic):
    from calendars.slots import slot_status

    a = await add_specialist(clinic.tenant, weekly={3: [("09:00", "12:00")]})
    b = await add_specialist(clinic.tenant, weekly={3: [("09:00", "12:00")]})
    cal = await add_calendar(clinic.tenant, [a, b], duration=30, notice=60)
    await add_appointment(clinic.tenant, cal["id"], a, at("09:30"), 30)
    await add_appointment(clinic.tenant, cal["id"], b, at("10:00"), 30)
    await add_appointment(clinic.tenant, cal["id"], a, at("10:00"), 30)
    now = at("07:00")
    async with tenant_tx(clinic.tenant) as conn:
        assert await slot_status(conn, cal["id"], at("09:30"), None, now) == ("free", [b])
        assert await slot_status(conn, cal["id"], at("09:00"), None, now) == (
            "free",
            sorted([a, b]),
        )
        assert await slot_status(conn, cal["id"], at("09:30"), a, now) == ("taken", [])
        assert await slot_status(conn, cal["id"], at("10:00"), None, now) == ("taken", [])
        assert await slot_status(conn, cal["id"], at("09:10"), None, now) == ("not_a_slot", [])
        assert await slot_status(conn, cal["id"], at("12:00"), None, now) == ("not_a_slot", [])
        # Inside the notice period: not a slot at all.
        assert await slot_status(conn, cal["id"], at("09:00"), None, at("08:30")) == (
            "not_a_slot",
            [],
        )


async def test_point_mode_reads_back_for_a_night_shift_that_runs_past_midnight(clinic):
    """slot_at() reads one local day first; a window running in from before midnight makes
    it read the full 7 days, so the grid is anchored where the window really starts."""
    sid = await add_specialist(
        clinic.tenant, weekly={2: [("22:00", "24:00")], 3: [("00:00", "02:00")]}
    )
    cal = await add_calendar(clinic.tenant, [sid], duration=45)
    now = at("12:00", "2026-06-08")
    night = await slots(clinic.tenant, cal["id"], at("20:00", "2026-06-09"), at("03:00"), now=now)
    # One window 22:00 (Tuesday) - 02:00 (Wednesday): 22:00, 22:45, 23:30, 00:15, 01:00.
    assert [r[0] for r in night] == [at("22:00", "2026-06-09") + timedelta(minutes=45 * k)
                                     for k in range(5)]  # fmt: skip
    async with tenant_tx(clinic.tenant) as conn:

        async def point(t: datetime) -> list[tuple[object, bool]]:
            rows = await conn.fetch("SELECT * FROM slot_at($1, $2, $3)", cal["id"], t, now)
            return [(r["specialist_id"], r["free"]) for r in rows]

        assert await point(at("00:15")) == [(sid, True)]
        assert await point(at("01:00")) == [(sid, True)]
        assert await point(at("00:00")) == []  # on a one-day look-back's grid, not the real one
        assert await point(at("23:30", "2026-06-09")) == [(sid, True)]
    await add_appointment(clinic.tenant, cal["id"], sid, at("00:15"), 45)
    async with tenant_tx(clinic.tenant) as conn:
        assert await point(at("00:15")) == [(sid, False)]  # a slot, but taken
