"""Specialists and their availability: weekly schedules, date overrides, clinic closures.

Every function takes a tenant connection inside a transaction; every change to availability
publishes ``availability.changed`` as the last statement of that transaction.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from calendars.intervals import validate_intervals
from calendars.schemas import (
    ClosureIn,
    ClosureOut,
    OverrideIn,
    OverrideOut,
    SpecialistIn,
    SpecialistOut,
    SpecialistPatch,
    TimeInterval,
    WeeklyInterval,
)
from carebook.errors import Conflict, Forbidden, NotFound, ValidationFailed
from carebook.events.outbox import AVAILABILITY_CHANGED, publish
from carebook.zones import date_in_range, valid_zone
from tenants.staff import StaffPrincipal

_SPECIALIST_COLUMNS = "id, name, email, timezone, buffer_minutes, active, staff_user"
_HHMM = "to_char({col}, 'HH24:MI')"  # '24:00:00' prints as 24:00; asyncpg cannot decode it


def _specialist(row: asyncpg.Record) -> SpecialistOut:
    return SpecialistOut(**dict(row))


async def availability_changed(
    conn: asyncpg.Connection, specialist_id: UUID | None, calendar_id: UUID | None = None
) -> None:
    """Tell live pages to refetch (no patient data, ever).

    Routed by the outbox: a specialist's change reaches the streams of their calendars, a
    calendar's change that calendar's streams, neither (closures) every stream of the clinic.
    """
    data: dict[str, Any] = {}
    if specialist_id is not None:
        data["specialist_id"] = specialist_id
    if calendar_id is not None:
        data["calendar_id"] = calendar_id
    await publish(conn, AVAILABILITY_CHANGED, specialist_id, data)


async def list_specialists(conn: asyncpg.Connection) -> list[SpecialistOut]:
    rows = await conn.fetch(f"SELECT {_SPECIALIST_COLUMNS} FROM specialists ORDER BY name, id")
    return [_specialist(r) for r in rows]


async def get_specialist(conn: asyncpg.Connection, specialist_id: UUID) -> SpecialistOut:
    row = await conn.fetchrow(
        f"SELECT {_SPECIALIST_COLUMNS} FROM specialists WHERE id = $1", specialist_id
    )
    if row is None:
        raise NotFound("No such specialist.", code="specialist_not_found")
    return _specialist(row)


async def _check_staff_user(conn: asyncpg.Connection, staff_user: UUID | None) -> None:
    if staff_user is not None and not await conn.fetchval(
        "SELECT 1 FROM staff_users WHERE id = $1", staff_user
    ):
        raise ValidationFailed.field("staff_user", "No such staff member.", code="unknown_staff")


async def create_specialist(conn: asyncpg.Connection, data: SpecialistIn) -> SpecialistOut:
    valid_zone(data.timezone)
    await _check_staff_user(conn, data.staff_user)
    try:
        row = await conn.fetchrow(
            f"""INSERT INTO specialists (name, email, timezone, buffer_minutes, active, staff_user)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_SPECIALIST_COLUMNS}""",
            data.name,
            data.email,
            data.timezone,
            data.buffer_minutes,
            data.active,
            data.staff_user,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(
            "That staff member already has a specialist profile.", code="staff_user_taken"
        ) from exc
    return _specialist(row)


async def update_specialist(
    conn: asyncpg.Connection, specialist_id: UUID, data: SpecialistPatch
) -> SpecialistOut:
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if "timezone" in changes:
        valid_zone(changes["timezone"])
    if "staff_user" in changes:
        await _check_staff_user(conn, changes["staff_user"])
    current = await get_specialist(conn, specialist_id)
    if not changes:
        return current
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=2))
    try:
        row = await conn.fetchrow(
            f"UPDATE specialists SET {sets} WHERE id = $1 RETURNING {_SPECIALIST_COLUMNS}",
            specialist_id,
            *changes.values(),
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(
            "That staff member already has a specialist profile.", code="staff_user_taken"
        ) from exc
    if changes.keys() & {"timezone", "buffer_minutes", "active"}:
        await availability_changed(conn, specialist_id)
    return _specialist(row)


async def delete_row(
    conn: asyncpg.Connection, table: str, row_id: UUID, *, noun: str, in_use: str
) -> None:
    """Delete one row by id: 404 when absent, 409 (deactivate instead) while appointments
    refer to it. ``table`` is one of this domain's table names, never input."""
    code = noun.replace(" ", "_")
    try:
        status = await conn.execute(f"DELETE FROM {table} WHERE id = $1", row_id)
    except asyncpg.ForeignKeyViolationError as exc:
        raise Conflict(in_use, code=f"{code}_has_appointments") from exc
    if status.endswith(" 0"):
        raise NotFound(f"No such {noun}.", code=f"{code}_not_found")


async def delete_specialist(conn: asyncpg.Connection, specialist_id: UUID) -> None:
    await delete_row(
        conn,
        "specialists",
        specialist_id,
        noun="specialist",
        in_use="The specialist has appointments; deactivate them instead.",
    )
    await availability_changed(conn, specialist_id)


async def ensure_can_edit(
    conn: asyncpg.Connection, staff: StaffPrincipal, specialist_id: UUID
) -> None:
    """Clinic admins edit anyone's availability; a specialist only their own."""
    row = await conn.fetchrow("SELECT staff_user FROM specialists WHERE id = $1", specialist_id)
    if row is None:
        raise NotFound("No such specialist.", code="specialist_not_found")
    if not staff.is_admin and row["staff_user"] != staff.id:
        raise Forbidden("You may edit only your own availability.", code="not_your_availability")


async def weekly_schedule(conn: asyncpg.Connection, specialist_id: UUID) -> list[WeeklyInterval]:
    await get_specialist(conn, specialist_id)
    rows = await conn.fetch(
        f"""SELECT isodow, {_HHMM.format(col="starts")} AS start, {_HHMM.format(col="ends")} AS end
            FROM weekly_intervals WHERE specialist_id = $1 ORDER BY isodow, starts""",
        specialist_id,
    )
    return [WeeklyInterval(r["isodow"], r["start"], r["end"]) for r in rows]


async def replace_weekly_schedule(
    conn: asyncpg.Connection, specialist_id: UUID, intervals: list[WeeklyInterval]
) -> list[WeeklyInterval]:
    """Replace the whole weekly schedule atomically (validated first: 422 names the index)."""
    valid = validate_intervals(intervals, "intervals")
    # Row lock: two concurrent PUTs serialise instead of interleaving deletes and inserts.
    await conn.execute("SELECT 1 FROM specialists WHERE id = $1 FOR UPDATE", specialist_id)
    await conn.execute("DELETE FROM weekly_intervals WHERE specialist_id = $1", specialist_id)
    await conn.executemany(
        "INSERT INTO weekly_intervals (specialist_id, isodow, starts, ends) "
        "VALUES ($1, $2, $3::text::time, $4::text::time)",
        [(specialist_id, iv.isodow, iv.start, iv.end) for iv in valid],
    )
    result = await weekly_schedule(conn, specialist_id)
    await availability_changed(conn, specialist_id)
    return result


def _override(row: asyncpg.Record, intervals: list[TimeInterval]) -> OverrideOut:
    dates = row["dates"]
    return OverrideOut(
        id=row["id"],
        specialist_id=row["specialist_id"],
        start_date=dates.lower,
        end_date=dates.upper - timedelta(days=1),
        kind=row["kind"],
        reason=row["reason"],
        intervals=intervals,
    )


async def list_overrides(
    conn: asyncpg.Connection, specialist_id: UUID, since: date | None = None
) -> list[OverrideOut]:
    await get_specialist(conn, specialist_id)
    rows = await conn.fetch(
        """SELECT id, specialist_id, dates, kind, reason FROM date_overrides
           WHERE specialist_id = $1 AND ($2::date IS NULL OR upper(dates) > $2)
           ORDER BY lower(dates)""",
        specialist_id,
        since,
    )
    ivs = await conn.fetch(
        f"""SELECT override_id, {_HHMM.format(col="starts")} AS start,
                   {_HHMM.format(col="ends")} AS end
            FROM override_intervals WHERE override_id = ANY($1::uuid[]) ORDER BY starts""",
        [r["id"] for r in rows],
    )
    by_id: dict[UUID, list[TimeInterval]] = {}
    for iv in ivs:
        by_id.setdefault(iv["override_id"], []).append(TimeInterval(iv["start"], iv["end"]))
    return [_override(r, by_id.get(r["id"], [])) for r in rows]


def _date_range(start: date, end: date | None) -> tuple[date, date]:
    date_in_range(start, "start_date")
    last = date_in_range(end, "end_date") if end is not None else start
    if last < start:
        raise ValidationFailed.field(
            "end_date", "end_date is before start_date.", code="invalid_range"
        )
    if (last - start).days > 366:
        raise ValidationFailed.field("end_date", "At most 367 days at once.", code="invalid_range")
    return start, last + timedelta(days=1)


async def create_override(
    conn: asyncpg.Connection, specialist_id: UUID, data: OverrideIn
) -> OverrideOut:
    lower, upper = _date_range(data.start_date, data.end_date)
    if data.kind == "unavailable":
        if data.reason is None:
            raise ValidationFailed.field(
                "reason",
                "A day off needs a reason: holiday, sick or other.",
                code="reason_required",
            )
        if data.intervals:
            raise ValidationFailed.field(
                "intervals", "A day off has no intervals.", code="unexpected_intervals"
            )
    else:
        if data.reason is not None:
            raise ValidationFailed.field(
                "reason", "Custom hours take no reason.", code="unexpected_reason"
            )
        if not data.intervals:
            raise ValidationFailed.field(
                "intervals", "Custom hours need at least one interval.", code="intervals_required"
            )
    valid = validate_intervals(data.intervals, "intervals", weekly=False)
    await get_specialist(conn, specialist_id)
    try:
        row = await conn.fetchrow(
            """INSERT INTO date_overrides (specialist_id, dates, kind, reason)
               VALUES ($1, daterange($2, $3), $4, $5)
               RETURNING id, specialist_id, dates, kind, reason""",
            specialist_id,
            lower,
            upper,
            data.kind,
            data.reason,
        )
    except asyncpg.ExclusionViolationError as exc:
        raise Conflict(
            "Another override covers some of these dates; delete it first.",
            code="override_overlaps",
        ) from exc
    await conn.executemany(
        "INSERT INTO override_intervals (override_id, starts, ends) "
        "VALUES ($1, $2::text::time, $3::text::time)",
        [(row["id"], iv.start, iv.end) for iv in valid],
    )
    await availability_changed(conn, specialist_id)
    return _override(row, [TimeInterval(iv.start, iv.end) for iv in valid])


async def delete_override(conn: asyncpg.Connection, specialist_id: UUID, override_id: UUID) -> None:
    status = await conn.execute(
        "DELETE FROM date_overrides WHERE id = $1 AND specialist_id = $2",
        override_id,
        specialist_id,
    )
    if status.endswith(" 0"):
        raise NotFound("No such override.", code="override_not_found")
    await availability_changed(conn, specialist_id)


def _closure(row: asyncpg.Record) -> ClosureOut:
    dates = row["dates"]
    return ClosureOut(row["id"], dates.lower, dates.upper - timedelta(days=1), row["reason"])


async def list_closures(conn: asyncpg.Connection, since: date | None = None) -> list[ClosureOut]:
    rows = await conn.fetch(
        "SELECT id, dates, reason FROM closures WHERE $1::date IS NULL OR upper(dates) > $1 "
        "ORDER BY lower(dates)",
        since,
    )
    return [_closure(r) for r in rows]


async def create_closure(conn: asyncpg.Connection, data: ClosureIn) -> ClosureOut:
    lower, upper = _date_range(data.start_date, data.end_date)
    row = await conn.fetchrow(
        "INSERT INTO closures (dates, reason) VALUES (daterange($1, $2), $3) "
        "RETURNING id, dates, reason",
        lower,
        upper,
        data.reason,
    )
    await availability_changed(conn, None)
    return _closure(row)


async def delete_closure(conn: asyncpg.Connection, closure_id: UUID) -> None:
    status = await conn.execute("DELETE FROM closures WHERE id = $1", closure_id)
    if status.endswith(" 0"):
        raise NotFound("No such closure.", code="closure_not_found")
    await availability_changed(conn, None)
