"""A small, obviously-correct model of the availability engine, for the property test only.

Minute by minute: every set of instants is a Python set of UTC epoch minutes. No ranges, no
clever arithmetic. Local times become instants by the documented DST rule (RFC 5545): PEP
495's fold=0 reading, i.e. the UTC offset in force before the transition — in a gap the
time moves forward by the gap, in a repeated hour it is the first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BLOCKING = {"held", "booked", "upcoming", "confirmed", "in_progress", "done"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Interval = tuple[str, str]  # "HH:MM", "HH:MM" ("24:00" allowed as end)


@dataclass
class Specialist:
    zone: str
    buffer: int
    weekly: dict[int, list[Interval]]
    overrides: dict[date, list[Interval]] = field(default_factory=dict)  # [] = day off
    appointments: list[tuple[datetime, int, str, datetime | None]] = field(default_factory=list)
    active: bool = True


@dataclass
class Calendar:
    duration: int
    interval: int | None
    notice: int
    horizon_days: int
    active_from: datetime | None = None
    active_until: datetime | None = None
    special: dict[int, list[Interval]] | None = None


def minute(t: datetime) -> int:
    return int((t - EPOCH).total_seconds()) // 60


def instant(day: date, hhmm: str, zone: str) -> datetime:
    """The documented rule: the fold=0 reading (a gap moves forward, a repeat is the first)."""
    if hhmm == "24:00":
        day, hhmm = day + timedelta(days=1), "00:00"
    naive = datetime.combine(day, time.fromisoformat(hhmm))
    return naive.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)


def local_minutes(days: list[date], zone: str, hours_of: dict[date, list[Interval]]) -> set[int]:
    out: set[int] = set()
    for d in days:
        for start, end in hours_of.get(d, []):
            out.update(range(minute(instant(d, start, zone)), minute(instant(d, end, zone))))
    return out


def dates_around(
    p_from: datetime, p_to: datetime, zone: str, before: int, after: int
) -> list[date]:
    z = ZoneInfo(zone)
    first = p_from.astimezone(z).date() - timedelta(days=before)
    last = p_to.astimezone(z).date() + timedelta(days=after)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def reference_slots(
    cal: Calendar,
    specialists: dict[str, Specialist],
    clinic_zone: str,
    closures: set[date],
    p_from: datetime,
    p_to: datetime,
    now: datetime,
) -> set[tuple[datetime, str]]:
    """Every (slot start, specialist key) of the spec's seven rules."""
    step = cal.interval or cal.duration
    cdays = dates_around(p_from, p_to, clinic_zone, 9, 2)
    special: set[int] | None = None
    if cal.special is not None:
        special = local_minutes(
            cdays, clinic_zone, {d: cal.special.get(d.isoweekday(), []) for d in cdays}
        )
    closed = local_minutes(cdays, clinic_zone, {d: [("00:00", "24:00")] for d in closures})
    lo_t = max(minute(p_from), minute(now) + cal.notice)
    hi_t = min(minute(p_to), minute(now + timedelta(days=cal.horizon_days)))
    result: set[tuple[datetime, str]] = set()
    for key, s in specialists.items():
        if not s.active:
            continue
        days = dates_around(p_from, p_to, s.zone, 7, 1)
        hours = local_minutes(
            days, s.zone, {d: s.overrides.get(d, s.weekly.get(d.isoweekday(), [])) for d in days}
        )
        fits = hours if special is None else hours & special
        window = {
            m
            for m in fits
            if (cal.active_from is None or m >= minute(cal.active_from))
            and (cal.active_until is None or m < minute(cal.active_until))
            and m not in closed
        }
        blocked: set[int] = set()
        for start, length, status, expires in s.appointments:
            if status in BLOCKING and (status != "held" or (expires and expires > now)):
                blocked.update(range(minute(start), minute(start) + length + s.buffer))
        for a in sorted(m for m in window if m - 1 not in window):
            t = a
            while t in window:
                if (
                    lo_t <= t < hi_t
                    and all(m in fits for m in range(t, t + cal.duration))
                    and not any(m in blocked for m in range(t, t + cal.duration + s.buffer))
                ):
                    result.add((EPOCH + timedelta(minutes=t), key))
                # The grid continues only while the window does (a gap ends the run).
                if not all(m in window for m in range(t, t + step)):
                    break
                t += step
    return result
