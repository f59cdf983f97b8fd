"""The agenda: a clinic's (or one specialist's) appointments laid out by day or week.

Four indexed queries per view (specialists, appointments in the window, closures, days off).
The day view lists every appointment, placed by time: the query computes the local minutes
and labels, positions are percentages of the visible hours applied by agenda.js. The week
view is a grid of summaries, one per specialist and day (count, count per status, first
start – last end), aggregated in SQL by ``agenda_week_cells()``: a busy clinic's week is
thousands of appointments, too many to send as chips; a cell opens that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from markupsafe import Markup, escape

from tenants.staff import StaffPrincipal

STATUS_LABELS = {
    "held": "Held",
    "booked": "Booked",
    "upcoming": "Upcoming",
    "confirmed": "Confirmed",
    "in_progress": "In progress",
    "done": "Done",
    "cancelled": "Cancelled",
    "no_show": "No-show",
}
DAY_START, DAY_END = 7, 20  # hours shown at least; widened to fit every appointment

_SPECIALISTS = """
SELECT id, name FROM specialists
WHERE active AND ($1::uuid IS NULL OR staff_user = $1)
ORDER BY name, id
"""
# Local wall-clock placement is computed here, in the query: day index in the view, minute
# of the day and length, and the "HH:MM–HH:MM" label (one pass, no per-row Python dates).
_APPOINTMENTS = """
SELECT a.id, a.status, a.specialist_id, c.name AS calendar_name, p.name AS patient_name,
       (a.starts_at AT TIME ZONE $4)::date - $5::date AS day_index,
       extract(epoch FROM (a.starts_at AT TIME ZONE $4)::time)::int / 60 AS start_min,
       extract(epoch FROM (a.ends_at AT TIME ZONE $4)
               - date_trunc('day', a.starts_at AT TIME ZONE $4))::int / 60 AS end_min,
       to_char(a.starts_at AT TIME ZONE $4, 'HH24:MI') || '–'
           || to_char(a.ends_at AT TIME ZONE $4, 'HH24:MI') AS times
FROM appointments a
JOIN calendars c ON c.id = a.calendar_id
LEFT JOIN patients p ON p.id = a.patient_id
WHERE a.specialist_id = ANY ($1::uuid[]) AND a.starts_at >= $2 AND a.starts_at < $3
  AND a.status NOT IN ('released', 'expired')
  AND (a.status <> 'held' OR a.hold_expires_at > now())
ORDER BY a.starts_at, a.id
"""
_WEEK_CELLS = "SELECT * FROM agenda_week_cells($1, $2, $3, $4, $5)"
_CLOSURES = """
SELECT lower(dates) AS first, upper(dates) AS after, reason FROM closures
WHERE dates && daterange($1, $2)
"""
_DAYS_OFF = """
SELECT specialist_id, lower(dates) AS first, upper(dates) AS after, reason FROM date_overrides
WHERE kind = 'unavailable' AND specialist_id = ANY ($1::uuid[]) AND dates && daterange($2, $3)
"""


@dataclass
class Block:
    id: UUID
    status: str
    status_label: str
    times: str
    patient: str
    calendar: str
    top: float = 0.0
    height: float = 0.0


@dataclass
class Cell:
    day: date
    off: str | None = None  # why nobody is bookable (closure or day off)
    blocks: list[Block] = field(default_factory=list)  # day view
    total: int = 0  # week view: a summary instead of the blocks
    mix: list[tuple[str, str, int]] = field(default_factory=list)  # (status, label, count)
    span: str = ""  # "08:00–16:30"


@dataclass
class Column:
    specialist_id: UUID
    name: str
    cells: list[Cell]


@dataclass
class Agenda:
    days: list[date]
    columns: list[Column]
    zone: str
    first_hour: int
    last_hour: int
    day_starts: list[datetime]  # each day's first visible instant (for the now-line)
    count: int
    summary: bool = False  # week view: cells carry totals, not blocks
    rows_html: list[Markup] = field(default_factory=list)  # week view: each day's cells

    @property
    def hours(self) -> list[int]:
        return list(range(self.first_hour, self.last_hour))


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


async def load(
    conn: asyncpg.Connection, me: StaffPrincipal, first: date, days: int, zone: ZoneInfo
) -> Agenda:
    """The day view (``days`` = 1: every appointment) or the week view (7: summaries)."""
    dates = [first + timedelta(days=i) for i in range(days)]
    after = first + timedelta(days=days)
    own = me.appointment_scope
    specialists = await conn.fetch(_SPECIALISTS, own)
    ids = [r["id"] for r in specialists]
    start, end = _local_midnight(first, zone), _local_midnight(after, zone)
    columns: dict[UUID, Column] = {
        r["id"]: Column(r["id"], r["name"], [Cell(d) for d in dates]) for r in specialists
    }
    await _shade(conn, columns, ids, first, after)
    if days > 1:
        return await _summaries(conn, columns, ids, dates, start, end, zone)
    rows = await conn.fetch(_APPOINTMENTS, ids, start, end, zone.key, first)
    first_hour, last_hour = DAY_START, DAY_END
    for r in rows:
        first_hour = min(first_hour, r["start_min"] // 60)
        last_hour = max(last_hour, min(24, -(-r["end_min"] // 60)))
    span = (last_hour - first_hour) * 60
    for r in rows:
        index = r["day_index"]
        if not 0 <= index < days:
            continue
        top_min = r["start_min"] - first_hour * 60
        length = max(10, min(r["end_min"], 24 * 60) - r["start_min"])
        columns[r["specialist_id"]].cells[index].blocks.append(
            Block(
                id=r["id"],
                status=r["status"],
                status_label=STATUS_LABELS.get(r["status"], r["status"]),
                times=r["times"],
                patient=r["patient_name"] or "(held)",
                calendar=r["calendar_name"],
                top=round(100 * top_min / span, 3),
                height=round(100 * min(length, span - top_min) / span, 3),
            )
        )
    day_starts = [datetime.combine(d, time(first_hour), zone) for d in dates]
    return Agenda(
        dates, list(columns.values()), zone.key, first_hour, last_hour, day_starts, len(rows)
    )


async def _shade(
    conn: asyncpg.Connection, columns: dict[UUID, Column], ids: list[UUID], first: date, after: date
) -> None:
    """Mark the cells nobody can book: clinic closures first, then days off."""
    closures = await conn.fetch(_CLOSURES, first, after)
    days_off = await conn.fetch(_DAYS_OFF, ids, first, after)
    for col in columns.values():
        for cell in col.cells:
            for c in closures:
                if c["first"] <= cell.day < c["after"]:
                    cell.off = f"Clinic closed{': ' + c['reason'] if c['reason'] else ''}"
    for o in days_off:
        for cell in columns[o["specialist_id"]].cells:
            if cell.off is None and o["first"] <= cell.day < o["after"]:
                cell.off = f"Day off ({o['reason']})"


async def _summaries(
    conn: asyncpg.Connection,
    columns: dict[UUID, Column],
    ids: list[UUID],
    dates: list[date],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
) -> Agenda:
    rows = await conn.fetch(_WEEK_CELLS, ids, start, end, zone.key, dates[0])
    count = 0
    for r in rows:
        index = r["day_index"]
        if not 0 <= index < len(dates):
            continue
        cell = columns[r["specialist_id"]].cells[index]
        cell.total = r["total"]
        cell.span = f"{r['first_start']}–{r['last_end']}"
        cell.mix = [
            (s, STATUS_LABELS.get(s, s), n) for s, n in zip(r["statuses"], r["counts"], strict=True)
        ]
        count += cell.total
    day_starts = [datetime.combine(d, time(DAY_START), zone) for d in dates]
    cols = list(columns.values())
    rows_html = [_week_row(cols, i, day, zone.key) for i, day in enumerate(dates)]
    return Agenda(dates, cols, zone.key, DAY_START, DAY_END, day_starts, count, True, rows_html)


def _week_row(columns: list[Column], index: int, day: date, zone: str) -> Markup:
    """One day's cells of the week grid as HTML, built here rather than in the template:
    280 cells through Jinja cost more than the query. Only the closure/day-off reason is
    free text (escaped); the rest is numbers, times, ids and fixed labels."""
    href = f"?view=day&amp;day={day.isoformat()}&amp;tz={quote(zone, safe='/')}#h-"
    parts = []
    for col in columns:
        cell = col.cells[index]
        off = f'<span class="off-note">{escape(cell.off)}</span>' if cell.off else ""
        link = ""
        if cell.total:
            mix = " ".join(
                f'<span class="st status-{s}">{n} {label.lower()}</span>'
                for s, label, n in cell.mix
            )
            plural = "" if cell.total == 1 else "s"
            link = (
                f'<a class="cell-sum" href="{href}{col.specialist_id}" data-cell>'
                f'<span class="n">{cell.total} appointment{plural}</span> '
                f'<span class="t">{cell.span}</span> <span class="mix">{mix}</span></a>'
            )
        parts.append(f'<td class="off">{off}{link}</td>' if cell.off else f"<td>{link}</td>")
    return Markup("".join(parts))  # noqa: S704 (escaped above)


def context(agenda: Agenda) -> dict[str, Any]:
    return {"agenda": agenda, "minutes": (agenda.last_hour - agenda.first_hour) * 60}
