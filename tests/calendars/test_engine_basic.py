"""Engine basics: working hours, grid, several intervals, 24:00 ends, specialists merged."""

from __future__ import annotations

from tests.calendars.engine_helpers import hhmm, local_day, slots
from tests.factories import add_calendar, add_specialist


async def test_nine_to_five_gives_sixteen_half_hour_slots(clinic):
    sid = await add_specialist(clinic.tenant, timezone="Europe/Berlin")
    cal = await add_calendar(clinic.tenant, [sid], duration=30)
    rows = await slots(clinic.tenant, cal["id"], *local_day("2026-06-10", "Europe/Berlin"))
    assert hhmm(rows, "Europe/Berlin") == [
        f"{h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 30)
    ]
    assert all(r[2] == sid for r in rows)
