"""Migrations: Piccolo for the platform schema, then every tenant schema.

Piccolo's migration table is global, so it cannot say which tenant schema is at which
version. Tenant DDL therefore lives in ordered ``<domain>/sql/tenant/NNNN_name.sql`` files,
applied per schema in one transaction each and recorded in
``public.tenant_schema_migrations``. One session-level advisory lock serialises migrators;
onboarding takes the same lock shared, so a clinic is never created half-way through a
migration run.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources

import asyncpg

from carebook.tenancy import quote_ident

log = logging.getLogger(__name__)

MIGRATE_LOCK_KEY = 0x0CA8EB00C  # pg advisory lock key shared by migrate and onboarding
TENANT_SQL_PACKAGES = (
    "tenants",
    "carebook",
    "calendars",
    "bookings",
    "video",
    "reviews",
    "notifications",
    "forms",
    "stats",
)

PLATFORM_BOOTSTRAP = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE IF NOT EXISTS public.tenant_schema_migrations (
    schema_name text NOT NULL,
    migration_id text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schema_name, migration_id)
);
"""


@dataclass(frozen=True)
class TenantMigration:
    id: str
    package: str
    sql: str


@cache
def tenant_migrations() -> tuple[TenantMigration, ...]:
    """Every tenant migration of every domain, in global file-name order."""
    found: dict[str, TenantMigration] = {}
    for package in TENANT_SQL_PACKAGES:
        folder = resources.files(package).joinpath("sql", "tenant")
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.name.endswith(".sql"):
                mid = entry.name.removesuffix(".sql")
                if mid in found:
                    raise RuntimeError(f"tenant migration {mid} exists in two domains")
                found[mid] = TenantMigration(mid, package, entry.read_text(encoding="utf-8"))
    return tuple(found[k] for k in sorted(found))


async def apply_tenant_migrations(conn: asyncpg.Connection, schema: str) -> list[str]:
    """Apply the missing tenant migrations to ``schema``; ``conn`` must be in a transaction."""
    applied = {
        r["migration_id"]
        for r in await conn.fetch(
            "SELECT migration_id FROM public.tenant_schema_migrations WHERE schema_name = $1",
            schema,
        )
    }
    done = []
    await conn.execute(f"SET LOCAL search_path TO {quote_ident(schema)}, public")
    for migration in tenant_migrations():
        if migration.id in applied:
            continue
        await conn.execute(migration.sql)
        await conn.execute(
            "INSERT INTO public.tenant_schema_migrations (schema_name, migration_id) "
            "VALUES ($1, $2)",
            schema,
            migration.id,
        )
        done.append(migration.id)
    return done


async def bootstrap_platform(conn: asyncpg.Connection) -> None:
    await conn.execute(PLATFORM_BOOTSTRAP)


async def run_piccolo_forwards() -> None:
    """Apply the platform schema's Piccolo migrations (users, sessions, tenants, tokens)."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # Piccolo narrates with print(); keep it for errors
        result = await run_forwards(app_name="all", migration_id="all", fake=False)
    log.debug("piccolo forwards: %s", out.getvalue())
    if not result.success:
        raise RuntimeError(f"platform migrations failed: {result.message}\n{out.getvalue()}")


@dataclass
class MigrateReport:
    tenants: int
    tenants_changed: int
    migrations_applied: int
    seconds: float


async def migrate_all(database_url: str) -> MigrateReport:
    """Migrate ``public``, then every tenant schema. Idempotent; serialised by an advisory lock."""
    started = time.perf_counter()
    lock_conn = await asyncpg.connect(database_url)
    try:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", MIGRATE_LOCK_KEY)
        await bootstrap_platform(lock_conn)
        await run_piccolo_forwards()
        wanted = [m.id for m in tenant_migrations()]
        # One query finds the schemas that lack any migration: a no-op run stays cheap.
        pending = await lock_conn.fetch(
            """
            SELECT t.schema_name
            FROM public.tenants t
            WHERE EXISTS (
                SELECT 1 FROM unnest($1::text[]) AS w(id)
                WHERE NOT EXISTS (
                    SELECT 1 FROM public.tenant_schema_migrations m
                    WHERE m.schema_name = t.schema_name AND m.migration_id = w.id))
            ORDER BY t.schema_name
            """,
            wanted,
        )
        total = await lock_conn.fetchval("SELECT count(*) FROM public.tenants")
        applied = 0
        for row in pending:
            async with lock_conn.transaction():
                applied += len(await apply_tenant_migrations(lock_conn, row["schema_name"]))
        return MigrateReport(total, len(pending), applied, time.perf_counter() - started)
    finally:
        try:
            await lock_conn.execute("SELECT pg_advisory_unlock($1)", MIGRATE_LOCK_KEY)
        finally:
            await lock_conn.close()
