"""Demo data of the calendars domain: specialists, a service and two calendars."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from carebook.tenancy import Tenant, tenant_tx

WEEKDAYS = range(1, 6)
# name, email, timezone, buffer minutes, weekday intervals
DEMO_SPECIALISTS: list[tuple[str, str, str, int, list[tuple[str, str]]]] = [
    (
        "Dr Anna Berger",
        "anna@demo.carebook.test",
        "Europe/Berlin",
        10,
        [("09:00", "12:30"), ("13:30", "17:00")],
    ),
    ("Dr Ben Hoffmann", "ben@demo.carebook.test", "Europe/Berlin", 0, [("09:00", "17:00")]),
    ("Dr Carla Sousa", "carla@demo.carebook.test", "Europe/Lisbon", 0, [("09:00", "17:00")]),
]
SERVICE = "Mobility Evaluation"
# slug, name, kind, price (EUR cents), how many of the demo specialists
DEMO_CALENDARS = [
    ("mobility-evaluation", "Mobility Evaluation", "standard", 8000, 3),
    ("mobility-promo", "Mobility Evaluation (introductory offer)", "promotional", 6000, 2),
]


async def _specialist(
    conn: asyncpg.Connection, spec: tuple[str, str, str, int, list[tuple[str, str]]]
) -> UUID:
    name, email, zone, buffer, hours = spec
    found: UUID | None = await conn.fetchval("SELECT id FROM specialists WHERE email = $1", email)
    if found is not None:
        return found
    sid: UUID = await conn.fetchval(
        "INSERT INTO specialists (name, email, timezone, buffer_minutes) "
        "VALUES ($1, $2, $3, $4) RETURNING id",
        name,
        email,
        zone,
        buffer,
    )
    await conn.executemany(
        "INSERT INTO weekly_intervals (specialist_id, isodow, starts, ends) "
        "VALUES ($1, $2, $3::text::time, $4::text::time)",
        [(sid, day, start, end) for day in WEEKDAYS for start, end in hours],
    )
    return sid


async def seed_demo(tenant: Tenant) -> list[str]:
    """Create the demo specialists, service and calendars if missing; return calendar slugs."""
    async with tenant_tx(tenant) as conn:
        # Serialise concurrent first starts of the demo (two processes booting at once).
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':demo'))")
        ids = [await _specialist(conn, spec) for spec in DEMO_SPECIALISTS]
        service_id = await conn.fetchval("SELECT id FROM services WHERE name = $1", SERVICE)
        if service_id is None:
            service_id = await conn.fetchval(
                "INSERT INTO services (name, description, default_duration_minutes) "
                "VALUES ($1, $2, 30) RETURNING id",
                SERVICE,
                "A 30-minute assessment of joint mobility, posture and movement.",
            )
        for slug, name, kind, price, count in DEMO_CALENDARS:
            calendar_id = await conn.fetchval(
                """INSERT INTO calendars (service_id, name, slug, kind, price_minor, currency,
                       duration_minutes, min_notice_minutes)
                   VALUES ($1, $2, $3, $4, $5, 'EUR', 30, 120)
                   ON CONFLICT (slug) DO NOTHING RETURNING id""",
                service_id,
                name,
                slug,
                kind,
                price,
            )
            if calendar_id is not None:
                await conn.executemany(
                    "INSERT INTO calendar_specialists (calendar_id, specialist_id) VALUES ($1, $2)",
                    [(calendar_id, sid) for sid in ids[:count]],
                )
    return [slug for slug, *_ in DEMO_CALENDARS]
