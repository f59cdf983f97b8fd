"""Backup and restore of one clinic (issue 16): export, import into another database, and the
round trip equals (row counts and checksums of every table and sequence of the schema, and
the clinic's platform rows)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from carebook.errors import Conflict
from carebook.runtime import create_database, with_database
from tenants.backup import export_clinic, import_clinic
from tests.bookings.support import bookable, place_hold, slot
from tests.conftest import DATABASE_URL, ROOT, Clinic, drop_database
from tests.factories import add_calendar, add_specialist
from tests.web.test_pages import book_first_slot

# pg_dump, pg_restore and our archive connections talk to PostgreSQL itself, never a pooler.
DIRECT = os.environ.get("CAREBOOK_DIRECT_DATABASE_URL") or DATABASE_URL


async def fingerprint(url: str, schema: str) -> dict[str, Any]:
    """Rows and an md5 of every table (rows sorted by their text form), sequence positions,
    and the clinic's rows in public tables keyed by schema_name."""
    conn = await asyncpg.connect(url)
    try:
        out: dict[str, Any] = {}
        tables = await conn.fetch(
            "SELECT c.relname, c.relkind::text AS relkind FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'S') "
            "ORDER BY c.relname",
            schema,
        )
        for t in tables:
            name = f'"{schema}"."{t["relname"]}"'
            if t["relkind"] == "S":
                out[name] = tuple(await conn.fetchrow(f"SELECT last_value, is_called FROM {name}"))
            else:
                out[name] = tuple(await conn.fetchrow(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' "
                    f"ORDER BY t::text), '')) FROM {name} t"))  # fmt: skip
        for table in ("tenants", "tenant_schema_migrations", "hold_expiries"):
            out[f"public.{table}"] = tuple(await conn.fetchrow(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), "
                f"'')) FROM public.{table} t WHERE schema_name = $1", schema))  # fmt: skip
        out["functions"] = await conn.fetchval(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = $1",
            schema,
        )
        return out
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def other_database(migrated: None) -> AsyncIterator[str]:
    """A second, freshly migrated database on the same server (``carebook migrate``)."""
    url = with_database(DIRECT, f"carebook_restore_{os.getpid()}")
    await create_database(url, drop_first=True)
    env = {**os.environ, "DATABASE_URL": url, "CAREBOOK_DIRECT_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "carebook", "migrate"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    yield url
    await drop_database(url)  # bounded: a slow checkpoint leaves it behind, with a note


async def test_export_import_round_trip_is_identical(
    client: httpx.AsyncClient, clinic: Clinic, other_database: str, tmp_path: Path
) -> None:
    sid = await add_specialist(clinic.tenant, name="Dr Backup")
    cal = await add_calendar(clinic.tenant, [sid], name="Restore visit", price_minor=1234)
    booked = await book_first_slot(client, clinic, cal["id"])
    setup = await bookable(clinic.tenant)
    await place_hold(client, clinic.public, setup, slot(clinic.tenant, days=2))  # a live hold
    doc = {"email": "doc@backup.test", "name": "Doc", "role": "specialist"}
    r = await client.post(f"{clinic.api}/staff", headers=clinic.headers, json=doc)
    assert r.status_code == 201, r.text

    archive = tmp_path / "clinic.tar"
    info = await export_clinic(DIRECT, clinic.slug, archive)
    assert info.tables["tenants"] == 1 and info.tables["hold_expiries"] >= 1
    before = await fingerprint(DIRECT, clinic.tenant.schema)
    assert before[f'"{clinic.tenant.schema}"."appointments"'][0] == 2

    await import_clinic(other_database, archive)
    after = await fingerprint(other_database, clinic.tenant.schema)
    assert after == before

    # The restored clinic works there: the shared functions run on its schema.
    conn = await asyncpg.connect(other_database)
    try:
        usage = await conn.fetchrow(
            "SELECT * FROM public.clinic_usage($1, now() - interval '1 year', "
            "now() + interval '1 year')",
            clinic.tenant.schema,
        )
        assert usage["appointments_this_month"] == 1 and usage["active_staff"] == 2
        status = await conn.fetchval(
            f'SELECT status FROM "{clinic.tenant.schema}".appointments WHERE id = $1',
            uuid.UUID(booked["appointment_id"]),
        )
        assert status == "booked"
    finally:
        await conn.close()

    # Importing where the clinic exists is refused and changes nothing.
    with pytest.raises(Conflict):
        await import_clinic(other_database, archive)
    with pytest.raises(Conflict):
        await import_clinic(DIRECT, archive)
    assert await fingerprint(other_database, clinic.tenant.schema) == before


async def test_cli_export_and_import(clinic: Clinic, other_database: str, tmp_path: Path) -> None:
    archive = tmp_path / "cli.tar"
    env = {**os.environ}
    done = subprocess.run(
        [sys.executable, "-m", "carebook", "tenants", "export", clinic.slug, "-o", str(archive)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert archive.stat().st_size > 0
    done = subprocess.run(
        [sys.executable, "-m", "carebook", "tenants", "import", str(archive)],
        env={**env, "DATABASE_URL": other_database, "CAREBOOK_DIRECT_DATABASE_URL": other_database},
        cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"clinic {clinic.slug}" in done.stdout
    assert await fingerprint(other_database, clinic.tenant.schema) == await fingerprint(
        DIRECT, clinic.tenant.schema
    )
    done = subprocess.run(
        [sys.executable, "-m", "carebook", "tenants", "export", "no-such-clinic", "-o",
         str(tmp_path / "x.tar")], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "no-such-clinic" in done.stderr
