"""The request paths keep their plans (issue 18).

Up to PostgreSQL 17, a SQL-language function that PostgreSQL cannot inline (a body with a
sub-select, a FROM or a data-modifying statement) is parsed and planned again in every
transaction that calls it; PL/pgSQL keeps its statements' plans for the session.
``stats_clinic_zone()`` and ``clinic_setting_int()`` were such functions (0.1 ms each on
every booking), and ``clinic_event_head()`` and the next hold's expiry on every kept slots
document. With ``track_functions = 'all'`` PostgreSQL counts every call of a function it
does not inline, so a transaction's own statistics name any such shared function a request
path still calls.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from carebook.settings import direct_database_url
from tests.bookings.support import bookable, slot
from tests.conftest import Clinic

CALLED = """
SELECT p.proname, l.lanname
FROM pg_stat_xact_user_functions f
JOIN pg_proc p ON p.oid = f.funcid
JOIN pg_language l ON l.oid = p.prolang
WHERE f.schemaname = 'public'
"""


async def test_request_paths_call_no_shared_sql_function_planned_per_call(
    clinic: Clinic,
) -> None:
    schema, zone = clinic.tenant.schema, clinic.tenant.timezone
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant, days=3)
    conn = await asyncpg.connect(direct_database_url())
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL track_functions = 'all'")
            await conn.fetchval(
                "SELECT public.public_catalog_document_in($1, 'c', 'C', $2)", schema, zone
            )
            await conn.fetchrow(
                "SELECT * FROM public.slots_document_in($1, $2, $3, $3, $4, $5, $6, now(),"
                " NULL, $4)",
                schema, setup.calendar_id, start.date(), zone, start - timedelta(days=1),
                start + timedelta(days=1),
            )  # fmt: skip
            day_lo = [start - timedelta(days=1), start, start + timedelta(days=1)]
            for heads in ([None, None], [0, 0]):  # nothing kept; kept at version 0: stale
                await conn.fetch(
                    "SELECT * FROM public.slot_pieces_in($1, $2, now(), $3, $4, $5, NULL, $4,"
                    " $6, false)",
                    schema, setup.calendar_id, start.date(), zone, day_lo, heads,
                )  # fmt: skip
            hold = await conn.fetchrow(
                "SELECT * FROM public.hold_slot_in($1, $2, $3, $4, NULL, sha256('t'::bytea),"
                " 10, $5)",
                schema, setup.calendar_id, start, setup.specialist_id, zone,
            )  # fmt: skip
            booked = await conn.fetchrow(
                "SELECT * FROM public.book_hold_in($1, 'k1', sha256('r'::bytea), $2,"
                " sha256('t'::bytea), 'pat@example.test', 'Pat', NULL, 'UTC', NULL, NULL,"
                " sha256('m'::bytea), NULL, 'patient', NULL, 'de')",
                schema, hold["id"],
            )  # fmt: skip
            assert booked["replayed"] is False
            version = 2
            for action, kind in (("upcoming", "system"), ("confirm", "staff"),
                                 ("cancel", "staff")):  # fmt: skip
                moved = await conn.fetchrow(
                    "SELECT * FROM public.transition_appointment_in($1, $2, $3, $4, $5, NULL,"
                    " NULL)",
                    schema, hold["id"], action, version, kind,
                )  # fmt: skip
                version = moved["version"]
            assert moved["status"] == "cancelled"
            called = {r["proname"]: r["lanname"] for r in await conn.fetch(CALLED)}
    finally:
        await conn.close()
    # Tracking was on: the path's PL/pgSQL functions are counted...
    assert {"public_catalog_document", "slots_document", "slot_day_pieces", "slot_pieces_state",
            "clinic_event_head", "clinic_events_since", "live_holds", "remember_patient_language",
            "hold_slot", "book_hold", "transition_appointment", "stats_clinic_zone",
            "clinic_setting_int", "intake_forms_missing",
            "unschedule_jobs"} <= called.keys()  # fmt: skip
    # ...and not one shared SQL function that PostgreSQL had to run (and plan) as a call.
    assert {name for name, lang in called.items() if lang == "sql"} == set()


async def test_the_previous_releases_book_hold_in_still_books(clinic: Clinic) -> None:
    """Instances of the previous release call book_hold_in() with 15 arguments while a rolling
    deploy replaces them (docs/architecture.md, "Shared functions")."""
    schema, zone = clinic.tenant.schema, clinic.tenant.timezone
    setup = await bookable(clinic.tenant)
    conn = await asyncpg.connect(direct_database_url())
    try:
        hold = await conn.fetchrow(
            "SELECT * FROM public.hold_slot_in($1, $2, $3, $4, NULL, sha256('t'::bytea), 10, $5)",
            schema, setup.calendar_id, slot(clinic.tenant, days=4), setup.specialist_id, zone,
        )  # fmt: skip
        booked = await conn.fetchrow(
            "SELECT * FROM public.book_hold_in($1, 'k2', sha256('r'::bytea), $2,"
            " sha256('t'::bytea), 'old@example.test', 'Pat', NULL, 'UTC', NULL, NULL,"
            " sha256('m'::bytea), NULL, 'patient', NULL)",
            schema, hold["id"],
        )  # fmt: skip
    finally:
        await conn.close()
    assert booked["replayed"] is False
