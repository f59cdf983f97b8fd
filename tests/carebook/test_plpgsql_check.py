"""Every shared PL/pgSQL body, checked against a real clinic schema by ``plpgsql_check``.

PostgreSQL validates only a PL/pgSQL body's syntax when the function is created; a wrong
table or column name shows when the statement first runs. ``test_shared_functions`` checks the
SQL bodies against a clinic; this checks the PL/pgSQL ones, statically, with the extension
``plpgsql_check`` (installed for the machine's PostgreSQL by ``scripts/ensure_plpgsql_check.sh``,
which CI runs; the embedded server has no such package, so there the test is skipped).

Functions with ``SET search_path = public`` (entry points and triggers: they enter the clinic
at run time) are checked as copies without that clause, in a scratch schema, so that their
statements resolve against the clinic as they do when they run. All of it in one transaction
that is rolled back.
"""

from __future__ import annotations

import asyncpg
import pytest

from carebook.settings import direct_database_url
from tests.conftest import Clinic

SHARED_PLPGSQL = """
SELECT p.oid, p.proname,
       coalesce('search_path=public' = ANY (p.proconfig), false) AS pinned,
       p.prorettype = 'trigger'::regtype AS is_trigger
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = 'public' AND l.lanname = 'plpgsql'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.objid = p.oid AND d.deptype = 'e')  -- an extension's own
ORDER BY p.proname
"""

ERRORS = """
SELECT x.lineno, x.statement, x.sqlstate, x.message, x.query
FROM plpgsql_check_function_tb($1::oid, $2::oid, fatal_errors => false,
                               other_warnings => false, extra_warnings => false,
                               performance_warnings => false) x
WHERE x.level = 'error'
"""

SCRATCH = "plcheck_copies"


async def _errors(conn: asyncpg.Connection, oid: int, relid: int) -> list[str]:
    return [
        f"line {r['lineno']} ({r['statement']}): {r['sqlstate']} {r['message']}"
        + (f" in: {' '.join(r['query'].split())}" if r["query"] else "")
        for r in await conn.fetch(ERRORS, oid, relid)
    ]


async def _copy_without_search_path(conn: asyncpg.Connection, oid: int) -> int:
    """The function re-created in the scratch schema without its SET clause; its oid."""
    definition: str = await conn.fetchval("SELECT pg_get_functiondef($1)", oid)
    head, as_, body = definition.partition("\nAS ")
    assert as_ and "\n SET search_path TO 'public'\n" in head + "\n", head
    head = head.replace("FUNCTION public.", f"FUNCTION {SCRATCH}.", 1)
    head = head.replace("\n SET search_path TO 'public'", "")
    await conn.execute(f"{head}{as_}{body}")
    copy: int = await conn.fetchval(
        "SELECT c.oid FROM pg_proc c, pg_proc p WHERE p.oid = $1 AND c.proname = p.proname"
        " AND c.proargtypes = p.proargtypes AND c.pronamespace = $2::regnamespace",
        oid, SCRATCH,
    )  # fmt: skip
    return copy


async def test_every_shared_plpgsql_body_checks_against_a_clinic(clinic: Clinic) -> None:
    conn = await asyncpg.connect(direct_database_url())
    try:
        if not await conn.fetchval(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'plpgsql_check'"
        ):
            pytest.skip("plpgsql_check is not installed here (scripts/ensure_plpgsql_check.sh)")
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
            await conn.execute(f"CREATE SCHEMA {SCRATCH}")
            await conn.execute(f'SET LOCAL search_path TO "{clinic.tenant.schema}", public')
            # The check itself must be able to fail: a body naming a column no clinic has.
            await conn.execute(
                f"CREATE FUNCTION {SCRATCH}.broken() RETURNS integer LANGUAGE plpgsql AS"
                " $$BEGIN RETURN (SELECT count(no_such_column) FROM appointments); END$$"
            )
            broken = await conn.fetchval(f"SELECT '{SCRATCH}.broken()'::regprocedure::oid")
            assert any("no_such_column" in e for e in await _errors(conn, broken, 0))

            functions = await conn.fetch(SHARED_PLPGSQL)
            assert len(functions) > 40
            found: dict[str, list[str]] = {}
            for f in functions:
                relid = 0
                if f["is_trigger"]:  # checked on a table it is a trigger of: the clinic's first
                    relid = await conn.fetchval(
                        "SELECT t.tgrelid FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                        " WHERE t.tgfoid = $1 ORDER BY c.relnamespace = $2::regnamespace DESC"
                        " LIMIT 1",
                        f["oid"], clinic.tenant.schema,
                    )  # fmt: skip
                    assert relid is not None, f"{f['proname']}: a trigger function of no table"
                oid = await _copy_without_search_path(conn, f["oid"]) if f["pinned"] else f["oid"]
                if errors := await _errors(conn, oid, relid):
                    found[f["proname"]] = errors
        finally:
            await tx.rollback()
    finally:
        await conn.close()
    assert found == {}
