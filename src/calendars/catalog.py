"""Services and their booking calendars (staff CRUD) and the public catalog."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from calendars.currencies import ISO_4217
from calendars.intervals import validate_intervals
from calendars.schemas import (
    CalendarIn,
    CalendarOut,
    CalendarPatch,
    Catalog,
    PublicCalendar,
    PublicSpecialist,
    ServiceIn,
    ServiceOut,
    ServicePatch,
    WeeklyInterval,
)
from calendars.service import availability_changed, delete_row
from carebook.errors import Conflict, NotFound, ValidationFailed, echo
from carebook.tenancy import Tenant, call_in_schema
from carebook.zones import instant_in_range

_SERVICE_COLUMNS = "id, name, description, default_duration_minutes, active"
_CALENDAR_COLUMNS = (
    "id, service_id, name, slug, kind, price_minor, currency, duration_minutes, "
    "slot_interval_minutes, min_notice_minutes, horizon_days, active_from, active_until, "
    "listed, active, video, required_form_ids"
)
# Fields whose change changes which slots exist (publish availability.changed).
_SLOT_FIELDS = frozenset(
    {
        "duration_minutes",
        "slot_interval_minutes",
        "min_notice_minutes",
        "horizon_days",
        "active_from",
        "active_until",
        "active",
        "special_hours",
        "specialist_ids",
        "service_id",
    }
)


async def list_services(conn: asyncpg.Connection) -> list[ServiceOut]:
    rows = await conn.fetch(f"SELECT {_SERVICE_COLUMNS} FROM services ORDER BY name, id")
    return [ServiceOut(**dict(r)) for r in rows]


async def get_service(conn: asyncpg.Connection, service_id: UUID) -> ServiceOut:
    row = await conn.fetchrow(f"SELECT {_SERVICE_COLUMNS} FROM services WHERE id = $1", service_id)
    if row is None:
        raise NotFound("No such service.", code="service_not_found")
    return ServiceOut(**dict(row))


async def create_service(conn: asyncpg.Connection, data: ServiceIn) -> ServiceOut:
    row = await conn.fetchrow(
        f"""INSERT INTO services (name, description, default_duration_minutes, active)
            VALUES ($1, $2, $3, $4) RETURNING {_SERVICE_COLUMNS}""",
        data.name,
        data.description,
        data.default_duration_minutes,
        data.active,
    )
    return ServiceOut(**dict(row))


async def update_service(
    conn: asyncpg.Connection, service_id: UUID, data: ServicePatch
) -> ServiceOut:
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if not changes:
        return await get_service(conn, service_id)
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=2))
    row = await conn.fetchrow(
        f"UPDATE services SET {sets} WHERE id = $1 RETURNING {_SERVICE_COLUMNS}",
        service_id,
        *changes.values(),
    )
    if row is None:
        raise NotFound("No such service.", code="service_not_found")
    if "active" in changes:
        await availability_changed(conn, None)
    return ServiceOut(**dict(row))


async def delete_service(conn: asyncpg.Connection, service_id: UUID) -> None:
    await delete_row(
        conn,
        "services",
        service_id,
        noun="service",
        in_use="The service's calendars have appointments; deactivate it instead.",
    )
    await availability_changed(conn, None)


async def _calendar_out(conn: asyncpg.Connection, row: asyncpg.Record) -> CalendarOut:
    hours = await conn.fetch(
        """SELECT isodow, to_char(starts, 'HH24:MI') AS start, to_char(ends, 'HH24:MI') AS end
           FROM calendar_special_hours WHERE calendar_id = $1 ORDER BY isodow, starts""",
        row["id"],
    )
    specialists = await conn.fetch(
        "SELECT specialist_id FROM calendar_specialists WHERE calendar_id = $1 "
        "ORDER BY specialist_id",
        row["id"],
    )
    return CalendarOut(
        **dict(row),
        special_hours=[WeeklyInterval(h["isodow"], h["start"], h["end"]) for h in hours],
        specialist_ids=[s["specialist_id"] for s in specialists],
    )


async def list_calendars(conn: asyncpg.Connection) -> list[CalendarOut]:
    rows = await conn.fetch(f"SELECT {_CALENDAR_COLUMNS} FROM calendars ORDER BY name, slug")
    return [await _calendar_out(conn, r) for r in rows]


async def get_calendar(conn: asyncpg.Connection, calendar_id: UUID) -> CalendarOut:
    row = await conn.fetchrow(
        f"SELECT {_CALENDAR_COLUMNS} FROM calendars WHERE id = $1", calendar_id
    )
    if row is None:
        raise NotFound("No such calendar.", code="calendar_not_found")
    return await _calendar_out(conn, row)


def _check_calendar(values: dict[str, Any]) -> None:
    if "currency" in values and values["currency"] not in ISO_4217:
        raise ValidationFailed.field(
            "currency",
            f"{echo(values['currency'])} is not an ISO 4217 currency code.",
            code="invalid_currency",
        )
    start, until = values.get("active_from"), values.get("active_until")
    for name in ("active_from", "active_until"):
        if values.get(name) is not None and values[name].tzinfo is None:
            raise ValidationFailed.field(name, "Give an offset (ISO 8601).", code="naive_datetime")
        if values.get(name) is not None:
            instant_in_range(values[name], name)
    if start is not None and until is not None and start >= until:
        raise ValidationFailed.field(
            "active_until", "active_until must be after active_from.", code="invalid_range"
        )


async def _set_links(conn: asyncpg.Connection, calendar_id: UUID, values: dict[str, Any]) -> None:
    if "special_hours" in values:
        hours = validate_intervals(values["special_hours"], "special_hours")
        await conn.execute("DELETE FROM calendar_special_hours WHERE calendar_id = $1", calendar_id)
        await conn.executemany(
            "INSERT INTO calendar_special_hours (calendar_id, isodow, starts, ends) "
            "VALUES ($1, $2, $3::text::time, $4::text::time)",
            [(calendar_id, h.isodow, h.start, h.end) for h in hours],
        )
    if "specialist_ids" in values:
        ids = list(dict.fromkeys(values["specialist_ids"]))
        known = await conn.fetchval(
            "SELECT count(*) FROM specialists WHERE id = ANY($1::uuid[])", ids
        )
        if known != len(ids):
            raise ValidationFailed.field(
                "specialist_ids", "Unknown specialist id.", code="unknown_specialist"
            )
        await conn.execute("DELETE FROM calendar_specialists WHERE calendar_id = $1", calendar_id)
        await conn.executemany(
            "INSERT INTO calendar_specialists (calendar_id, specialist_id) VALUES ($1, $2)",
            [(calendar_id, sid) for sid in ids],
        )


_LINKS = ("special_hours", "specialist_ids")


async def _write_calendar(
    conn: asyncpg.Connection, calendar_id: UUID | None, values: dict[str, Any]
) -> UUID:
    _check_calendar(values)
    if "special_hours" in values:
        validate_intervals(values["special_hours"], "special_hours")  # 422 before any write
    columns = {k: v for k, v in values.items() if k not in _LINKS}
    if "service_id" in columns and not await conn.fetchval(
        "SELECT 1 FROM services WHERE id = $1", columns["service_id"]
    ):
        raise ValidationFailed.field("service_id", "No such service.", code="unknown_service")
    try:
        if calendar_id is None:
            names = ", ".join(columns)
            params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
            calendar_id = await conn.fetchval(
                f"INSERT INTO calendars ({names}) VALUES ({params}) RETURNING id",
                *columns.values(),
            )
        elif columns:
            sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(columns, start=2))
            if (
                await conn.fetchval(
                    f"UPDATE calendars SET {sets} WHERE id = $1 RETURNING id",
                    calendar_id,
                    *columns.values(),
                )
                is None
            ):
                raise NotFound("No such calendar.", code="calendar_not_found")
        elif not await conn.fetchval("SELECT 1 FROM calendars WHERE id = $1", calendar_id):
            raise NotFound("No such calendar.", code="calendar_not_found")
    except asyncpg.UniqueViolationError as exc:
        raise Conflict("Another calendar has this slug.", code="slug_taken") from exc
    except asyncpg.CheckViolationError as exc:
        raise ValidationFailed(
            f"Invalid calendar: {exc.constraint_name}.", code="invalid_calendar"
        ) from exc
    except asyncpg.ForeignKeyViolationError as exc:
        # The forms domain's trigger: every required form is a live intake form, named once.
        if exc.message not in ("duplicate_form", "unknown_form"):
            raise
        message = (
            "A form is named twice."
            if exc.message == "duplicate_form"
            else f"No such intake form: {exc.detail}."
        )
        raise ValidationFailed.field("required_form_ids", message, code="unknown_form") from exc
    assert calendar_id is not None
    await _set_links(conn, calendar_id, values)
    return calendar_id


async def create_calendar(conn: asyncpg.Connection, data: CalendarIn) -> CalendarOut:
    values = msgspec.structs.asdict(data)
    calendar_id = await _write_calendar(conn, None, values)
    out = await get_calendar(conn, calendar_id)
    await availability_changed(conn, None, calendar_id)
    return out


async def update_calendar(
    conn: asyncpg.Connection, calendar_id: UUID, data: CalendarPatch
) -> CalendarOut:
    values = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    await _write_calendar(conn, calendar_id, values)
    out = await get_calendar(conn, calendar_id)
    if values.keys() & _SLOT_FIELDS:
        await availability_changed(conn, None, calendar_id)
    return out


async def delete_calendar(conn: asyncpg.Connection, calendar_id: UUID) -> None:
    await delete_row(
        conn,
        "calendars",
        calendar_id,
        noun="calendar",
        in_use="The calendar has appointments; deactivate it instead.",
    )
    await availability_changed(conn, None, calendar_id)


async def calendars_requiring_form(
    conn: asyncpg.Connection, form_id: UUID
) -> list[tuple[UUID, str]]:
    """(id, name) of the calendars whose bookings require the form ``form_id``."""
    rows = await conn.fetch(
        "SELECT id, name FROM calendars WHERE $1 = ANY (required_form_ids) ORDER BY name, id",
        form_id,
    )
    return [(r["id"], r["name"]) for r in rows]


_PUBLIC_CALENDARS = """
SELECT c.id, c.slug, c.name, c.kind, c.price_minor, c.currency, c.duration_minutes,
       c.horizon_days, s.id AS service_id, s.name AS service_name,
       s.description AS service_description,
       coalesce((SELECT json_agg(json_build_object('id', sp.id, 'name', sp.name)
                                 ORDER BY sp.name, sp.id)::text
                 FROM calendar_specialists cs JOIN specialists sp ON sp.id = cs.specialist_id
                 WHERE cs.calendar_id = c.id AND sp.active), '[]') AS specialists
FROM calendars c JOIN services s ON s.id = c.service_id
WHERE c.active AND s.active AND {where}
ORDER BY s.name, s.id, c.name, c.slug
"""


def _public_calendar(row: asyncpg.Record) -> PublicCalendar:
    specialists = msgspec.json.decode(row["specialists"], type=list[PublicSpecialist])
    return PublicCalendar(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        kind=row["kind"],
        price_minor=row["price_minor"],
        currency=row["currency"],
        duration_minutes=row["duration_minutes"],
        specialists=specialists,
        service_id=row["service_id"],
        service_name=row["service_name"],
        horizon_days=row["horizon_days"],
    )


_CATALOG_DOCUMENT = "SELECT public.public_catalog_document_in($1, $2, $3, $4)"


async def public_catalog_document(tenant: Tenant) -> bytes:
    """The public catalog's JSON (``Catalog``) as PostgreSQL wrote it (tenant migration
    ``0150_slots_document``): listed, active services with their listed, active calendars."""
    [row] = await call_in_schema(
        tenant, _CATALOG_DOCUMENT, tenant.slug, tenant.name, tenant.timezone
    )
    document: bytes = row[0]
    return document


async def public_catalog(tenant: Tenant) -> Catalog:
    """``public_catalog_document()`` as values, for server-rendered pages."""
    return msgspec.json.decode(await public_catalog_document(tenant), type=Catalog)


async def public_calendar_by_slug(conn: asyncpg.Connection, slug: str) -> PublicCalendar:
    """One active calendar by slug, listed or not (unlisted ones are booked by direct link)."""
    row = await conn.fetchrow(_PUBLIC_CALENDARS.format(where="c.slug = $1"), slug)
    if row is None:
        raise NotFound("No such calendar.", code="calendar_not_found")
    return _public_calendar(row)
