"""One shared copy of every clinic-schema function, in ``public`` (issues 16 and 11).

The functions resolve a clinic's tables through the search_path: the tenant transaction's,
an entry point's (``public.<fn>_in(p_schema, …)``) or a trigger's own (``TG_TABLE_SCHEMA``).
These tests guard against a clinic seeing another's rows through a cached plan, and against
a trigger fired from a statement whose search_path has no clinic at all.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from carebook import migrations
from carebook.migrations import SharedSql, migrate_all
from carebook.settings import direct_database_url
from carebook.tenancy import quote_ident, tenant_tx
from tests.bookings.support import Setup, bookable, slot
from tests.conftest import Clinic

SRC = Path(__file__).resolve().parents[2] / "src"

TRIGGERS_PER_CLINIC = 15
COPIES_BEFORE_0160 = 49  # functions each clinic schema owned


def _shared_names() -> set[str]:
    found = set()
    for shared in migrations.shared_sql_files():
        found |= set(re.findall(r"CREATE OR REPLACE FUNCTION (\w+)\(", shared.sql))
    return found


@pytest.fixture
async def conn() -> AsyncIterator[asyncpg.Connection]:
    """A plain connection: search_path "$user", public — no clinic."""
    c = await asyncpg.connect(direct_database_url())
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def two(make_clinic: Callable[..., Awaitable[Clinic]]) -> tuple[Setup, Setup]:
    a, b = await make_clinic(), await make_clinic(timezone="America/New_York")
    return await bookable(a.tenant), await bookable(b.tenant)


async def test_clinic_schemas_own_no_function_and_triggers_point_to_public(
    clinic: Clinic, conn: asyncpg.Connection
) -> None:
    # This test's clinic (other tests create functions of their own in theirs).
    owned = await conn.fetch(
        "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = $1::regnamespace",
        clinic.tenant.schema,
    )
    assert owned == []
    triggers = await conn.fetch(
        """SELECT tg.tgname, c.relnamespace::regnamespace::text AS schema,
                  p.pronamespace::regnamespace::text AS function_schema
           FROM pg_trigger tg
           JOIN pg_class c ON c.oid = tg.tgrelid
           JOIN pg_proc p ON p.oid = tg.tgfoid
           WHERE NOT tg.tgisinternal AND c.relnamespace = $1::regnamespace""",
        clinic.tenant.schema,
    )
    assert len(triggers) == TRIGGERS_PER_CLINIC
    assert {t["function_schema"] for t in triggers} == {"public"}
    missing = await conn.fetchval(
        """SELECT array_agg(n ORDER BY n) FROM unnest($1::text[]) n
           WHERE NOT EXISTS (SELECT 1 FROM pg_proc p
                             WHERE p.proname = n AND p.pronamespace = 'public'::regnamespace)""",
        sorted(_shared_names()),
    )
    assert missing is None


async def test_shared_bodies_are_valid_against_a_clinic_schema(clinic: Clinic) -> None:
    """They are created with check_function_bodies off (public has no clinic tables): parse
    and analyse every SQL body against a real clinic, and check every PL/pgSQL body."""
    async with tenant_tx(clinic.tenant) as c:
        await c.execute("SET LOCAL check_function_bodies = on")
        rows = await c.fetch(
            """SELECT p.oid, p.proname, l.lanname FROM pg_proc p
               JOIN pg_language l ON l.oid = p.prolang
               WHERE p.pronamespace = 'public'::regnamespace AND p.proname = ANY ($1)""",
            sorted(_shared_names()),
        )
        assert {r["lanname"] for r in rows} == {"sql", "plpgsql"}
        for r in rows:
            validator = "fmgr_sql_validator" if r["lanname"] == "sql" else "plpgsql_validator"
            await c.execute(f"SELECT {validator}($1)", r["oid"])


async def _slots(conn: asyncpg.Connection, s: Setup, calendar: Any) -> tuple[str | None, Any]:
    day = slot(s.tenant).date()
    start = datetime.combine(day, datetime.min.time(), UTC)
    row = await conn.fetchrow(
        "SELECT missing, document FROM public.slots_document_in("
        "$1, $2, $3, $3, 'UTC', $4, $5, now(), NULL, $6)",
        s.tenant.schema, calendar, day, start, start + timedelta(days=1), s.tenant.timezone,
    )  # fmt: skip
    return row["missing"], row["document"]


async def test_one_connection_two_clinics_each_sees_its_own(
    two: tuple[Setup, Setup], conn: asyncpg.Connection
) -> None:
    a, b = two
    path = await conn.fetchval("SHOW search_path")
    for _ in range(2):  # the second round runs on the plans the first round cached
        for s, other in ((a, b), (b, a)):
            missing, doc = await _slots(conn, s, s.calendar_id)
            assert missing is None and str(s.calendar_id) in doc.decode()
            # The other clinic's calendar does not exist in this one.
            assert (await _slots(conn, s, other.calendar_id))[0] == "calendar_not_found"
            catalog = await conn.fetchval(
                "SELECT public.public_catalog_document_in($1, 'x', 'X', 'UTC')", s.tenant.schema
            )
            assert str(s.calendar_id) in catalog.decode()
            assert str(other.calendar_id) not in catalog.decode()
    # Holds: each lands in its own clinic, with its own event, its own clinic's local day.
    for i, s in enumerate((a, b, a)):
        start = slot(s.tenant, hour=9) + timedelta(minutes=30 * i)
        hold = await conn.fetchrow(
            "SELECT * FROM public.hold_slot_in($1, $2, $3, NULL, NULL, $4, 10, $5)",
            s.tenant.schema, s.calendar_id, start, b"t", s.tenant.timezone,
        )  # fmt: skip
        schema = quote_ident(s.tenant.schema)
        assert (
            await conn.fetchval(
                f"SELECT calendar_id FROM {schema}.appointments WHERE id = $1", hold["id"]
            )
            == s.calendar_id
        )
    for s in (a, b):
        schema = quote_ident(s.tenant.schema)
        held = await conn.fetchval(f"SELECT count(*) FROM {schema}.appointments")
        events = await conn.fetchval(
            f"SELECT count(*) FROM {schema}.events WHERE type = 'slot.held'"
        )
        assert (held, events) == ((2, 2) if s is a else (1, 1))
    # Several clinics in one statement (the platform's usage page).
    usage = await conn.fetch(
        "SELECT * FROM public.clinic_usage($1, now() - interval '1 day', now() + interval "
        "'9 days') UNION ALL SELECT * FROM public.clinic_usage($2, now() - interval '1 day', "
        "now() + interval '9 days')",
        a.tenant.schema,
        b.tenant.schema,
    )
    staff = [
        await conn.fetchval(f"SELECT count(*) FROM {quote_ident(s.tenant.schema)}.staff_users")
        for s in (a, b)
    ]
    assert [u["active_staff"] for u in usage] == staff
    assert await conn.fetchval("SHOW search_path") == path


async def test_entry_points_refuse_a_schema_that_is_no_clinic(conn: asyncpg.Connection) -> None:
    for schema in ("public", "no_such_clinic"):
        with pytest.raises(asyncpg.InvalidSchemaNameError):
            await conn.fetchval(
                "SELECT public.public_catalog_document_in($1, 'x', 'X', 'UTC')", schema
            )


def test_only_enter_clinic_schema_sets_the_search_path() -> None:
    """Entry points and triggers enter their clinic through the one helper (and its check
    that the schema is a clinic's), never by a set_config of their own."""
    setters = set()
    for shared in migrations.shared_sql_files():
        for function in shared.sql.split("CREATE OR REPLACE FUNCTION ")[1:]:
            if re.search(r"set_config\(\s*'search_path'", function):
                setters.add(function.split("(", 1)[0])
    assert setters == {"enter_clinic_schema"}


def test_platform_rows_are_matched_by_an_indexable_current_schema() -> None:
    """``current_schema()`` is a ``name`` (collation C): compared with a ``schema_name``
    column as it is, no index serves the comparison and every clinic's rows are read
    (tests/carebook/test_platform_lookups.py). Every such comparison says
    ``current_schema()::text COLLATE "default"``."""
    bare = []
    # Shared functions, and the statements of src/*/sql sent as they are (the hold sweep);
    # tenant migrations are history (0160 dropped their functions).
    sources = [(shared.name, shared.sql) for shared in migrations.shared_sql_files()]
    sources += [
        (path.relative_to(SRC).as_posix(), path.read_text(encoding="utf-8"))
        for path in sorted(SRC.glob("*/sql/*.sql"))
    ]
    assert any(name == "bookings/sql/sweep_due_holds.sql" for name, _ in sources)
    for name, text in sources:
        for found in re.finditer(r"schema_name\s*=\s*current_schema\(\)([^\n]*)", text):
            if not found.group(1).startswith('::text COLLATE "default"'):
                bare.append(f"{name}: {found.group(0)}")
    assert bare == []


async def test_triggers_write_into_their_own_clinic_whatever_the_search_path(
    two: tuple[Setup, Setup], conn: asyncpg.Connection
) -> None:
    a, b = two
    sa, sb = quote_ident(a.tenant.schema), quote_ident(b.tenant.schema)
    assert await conn.fetchval("SELECT current_schema()") == "public"
    # Stats rollups: a hold becoming a booking, by schema-qualified DML only.
    hold = await conn.fetchval(
        "SELECT id FROM public.hold_slot_in($1, $2, $3, NULL, NULL, $4, 10, $5)",
        a.tenant.schema, a.calendar_id, slot(a.tenant), b"t", a.tenant.timezone,
    )  # fmt: skip
    await conn.execute(f"UPDATE {sa}.appointments SET status = 'booked' WHERE id = $1", hold)
    assert await conn.fetchval(f"SELECT sum(booked) FROM {sa}.stats_daily") == 1
    assert await conn.fetchval(f"SELECT sum(booked) FROM {sa}.stats_monthly") == 1
    assert await conn.fetchval(f"SELECT count(*) FROM {sb}.stats_daily") == 0
    await conn.execute(
        f"INSERT INTO {sb}.stats_daily (day, calendar_id, specialist_id, booked) "
        "VALUES (current_date, $1, $2, 3)",
        b.calendar_id,
        b.specialist_id,
    )
    assert await conn.fetchval(f"SELECT sum(booked) FROM {sb}.stats_monthly") == 3
    assert await conn.fetchval(f"SELECT sum(booked) FROM {sa}.stats_monthly") == 1
    # Append-only history and the forms guard (which reads the clinic's form templates).
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute(f"TRUNCATE {sa}.appointment_history")
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="unknown_form"):
        await conn.execute(
            f"UPDATE {sb}.calendars SET required_form_ids = ARRAY[gen_random_uuid()] WHERE id = $1",
            b.calendar_id,
        )
    # Availability changed: the offered-time cache of that clinic only is forgotten.
    await conn.execute(
        f"INSERT INTO {sa}.stats_offered_coverage (calendar_id, days) "
        "VALUES ($1, datemultirange(daterange(current_date - 5, current_date + 5)))",
        a.calendar_id,
    )
    await conn.execute(
        f"INSERT INTO {sa}.events (type, data) VALUES ('availability.changed', '{{}}')"
    )
    kept_until = await conn.fetchval(
        f"SELECT upper(days) = (now() AT TIME ZONE $1)::date - 1 FROM {sa}.stats_offered_coverage",
        a.tenant.timezone,
    )
    assert kept_until  # forgotten from yesterday (the clinic's) on
    assert await conn.fetchval("SELECT current_schema()") == "public"


async def test_shared_files_run_again_only_when_changed(
    clinic: Clinic, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stamp() -> Awaitable[Any]:
        return conn.fetchval(
            "SELECT xmin::text FROM pg_proc WHERE oid = 'public.event_instant'::regproc"
        )

    before = await stamp()
    report = await migrate_all(direct_database_url())
    assert report.shared_files_applied == 0
    assert await stamp() == before

    original = migrations.shared_sql_files()
    changed = tuple(
        SharedSql(s.name, s.sql + "\n-- changed\n", "0" * 64) if s.name == "carebook/events.sql"
        else s
        for s in original
    )  # fmt: skip
    monkeypatch.setattr("carebook.migrations.shared_sql_files", lambda: changed)
    assert (await migrate_all(direct_database_url())).shared_files_applied == 1
    assert await stamp() != before
    assert (
        await conn.fetchval(
            "SELECT sha256 FROM public.shared_sql_applied WHERE name = 'carebook/events.sql'"
        )
        == "0" * 64
    )
    monkeypatch.undo()
    assert (await migrate_all(direct_database_url())).shared_files_applied == 1
    assert (await migrate_all(direct_database_url())).shared_files_applied == 0


async def test_changed_shared_files_apply_all_or_nothing(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shared functions call each other across files (enqueue_lifecycle_jobs() the domains'
    effect conditions): a migrate that fails on one changed file applies none of them, so
    serving clinics never see a caller without its callee."""
    caller = SharedSql(
        "tests/caller.sql",
        "CREATE OR REPLACE FUNCTION atomic_probe_caller() RETURNS int LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN atomic_probe_callee(); END $$;",
        "1" * 64,
    )
    broken = SharedSql(
        "tests/callee.sql", "CREATE OR REPLACE FUNCTION atomic_probe_callee(", "2" * 64
    )
    files = (*migrations.shared_sql_files(), caller, broken)
    monkeypatch.setattr("carebook.migrations.shared_sql_files", lambda: files)
    with pytest.raises(asyncpg.PostgresSyntaxError):
        await migrations.apply_shared_functions(conn)
    assert await conn.fetchval("SELECT to_regproc('public.atomic_probe_caller')") is None
    assert not await conn.fetchval(
        "SELECT count(*) FROM public.shared_sql_applied WHERE name LIKE 'tests/%'"
    )


async def test_migrate_moves_existing_clinics_to_the_shared_functions_in_batches(
    make_clinic: Callable[..., Awaitable[Clinic]],
    conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Clinics made before 0160 (their own copies, triggers on them) end as new ones do."""
    current = migrations.tenant_migrations()
    before = tuple(m for m in current if m.id < migrations.SHARED_FUNCTIONS_MIGRATION)
    monkeypatch.setattr("carebook.migrations.tenant_migrations", lambda: before)
    monkeypatch.setattr("carebook.migrations.SHARED_FUNCTIONS_BATCH", 2)
    old = [await make_clinic() for _ in range(3)]
    schemas = [c.tenant.schema for c in old]
    owned = "SELECT count(*) FROM pg_proc WHERE pronamespace::regnamespace::text = ANY ($1)"
    assert await conn.fetchval(owned, schemas) == 3 * COPIES_BEFORE_0160
    monkeypatch.setattr("carebook.migrations.tenant_migrations", lambda: current)

    report = await migrate_all(direct_database_url())
    assert report.migrations_applied == 3 and report.tenants_changed == 3
    assert await conn.fetchval(owned, schemas) == 0
    assert (
        await conn.fetchval(
            """SELECT count(*) FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
           JOIN pg_proc p ON p.oid = tg.tgfoid
           WHERE NOT tg.tgisinternal AND c.relnamespace::regnamespace::text = ANY ($1)
             AND p.pronamespace = 'public'::regnamespace""",
            schemas,
        )
        == 3 * TRIGGERS_PER_CLINIC
    )
    setup = await bookable(old[2].tenant)
    hold = await conn.fetchval(
        "SELECT id FROM public.hold_slot_in($1, $2, $3, NULL, NULL, $4, 10, $5)",
        setup.tenant.schema, setup.calendar_id, slot(setup.tenant), b"t", setup.tenant.timezone,
    )  # fmt: skip
    assert hold is not None
    assert (await migrate_all(direct_database_url())).migrations_applied == 0


async def test_ready_says_when_the_shared_functions_are_not_this_codes(
    migrated: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carebook import health

    monkeypatch.setattr(health, "_migrations_ok_until", 0.0)
    assert await health._migrations() == "ok"
    changed = tuple(
        SharedSql(s.name, s.sql, "0" * 64) if s.name == "stats/stats.sql" else s
        for s in migrations.shared_sql_files()
    )
    monkeypatch.setattr("carebook.migrations.shared_sql_files", lambda: changed)
    monkeypatch.setattr(health, "_migrations_ok_until", 0.0)
    with pytest.raises(RuntimeError, match="1 shared function files not applied"):
        await health._migrations()
