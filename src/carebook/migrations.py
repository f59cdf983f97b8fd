"""Migrations: Piccolo for the platform schema, the shared functions, then every tenant schema.

Piccolo's migration table is global, so it cannot say which tenant schema is at which
version. Tenant DDL therefore lives in ordered ``<domain>/sql/tenant/NNNN_name.sql`` files,
applied per schema in one transaction each and recorded in
``public.tenant_schema_migrations``. One session-level advisory lock serialises migrators;
onboarding takes the same lock shared, so a clinic is never created half-way through a
migration run.

The functions of the clinic schemas exist once, in ``public``
(``<domain>/sql/functions/*.sql``, all ``CREATE OR REPLACE``): they resolve the clinic's
tables through the caller's search_path (docs/architecture.md, "Shared functions"). A file
is run again only when its sha256 differs from the one recorded in
``public.shared_sql_applied``, so a no-op migrate changes no ``pg_proc`` row (each change
makes every backend drop its cached function lists).
"""

from __future__ import annotations

import contextlib
import hashlib
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
CREATE TABLE IF NOT EXISTS public.shared_sql_applied (
    name text PRIMARY KEY,
    sha256 text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
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


@dataclass(frozen=True)
class SharedSql:
    name: str  # "<domain>/<file>.sql"
    sql: str
    sha256: str


@cache
def shared_sql_files() -> tuple[SharedSql, ...]:
    """The shared-function files of every domain (``<domain>/sql/functions/*.sql``)."""
    found = []
    for package in TENANT_SQL_PACKAGES:
        folder = resources.files(package).joinpath("sql", "functions")
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".sql"):
                sql = entry.read_text(encoding="utf-8")
                digest = hashlib.sha256(sql.encode()).hexdigest()
                found.append(SharedSql(f"{package}/{entry.name}", sql, digest))
    return tuple(found)


async def unapplied_shared_files(
    conn: asyncpg.Connection, query_timeout: float | None = None
) -> list[SharedSql]:
    """The shared-function files of this code whose checksum the database has not recorded."""
    rows = await conn.fetch(
        "SELECT name, sha256 FROM public.shared_sql_applied", timeout=query_timeout
    )
    recorded = {r["name"]: r["sha256"] for r in rows}
    return [s for s in shared_sql_files() if recorded.get(s.name) != s.sha256]


async def apply_shared_functions(conn: asyncpg.Connection) -> list[str]:
    """(Re)create the shared functions of every file whose checksum changed; returns names.

    The caller holds the migrate lock. Bodies name clinic tables that ``public`` lacks, so
    they are created with ``check_function_bodies`` off (tests/carebook/test_shared_functions
    validates them against a clinic schema instead). Every changed file goes in ONE
    transaction: functions of one domain call another's (``enqueue_lifecycle_jobs()`` the
    domains' effect conditions), and serving clinics must never see the new caller without
    its new callee, nor a half-applied set after a failed migrate.
    """
    done = []
    async with conn.transaction():
        await conn.execute("SET LOCAL search_path TO public")
        await conn.execute("SET LOCAL check_function_bodies = off")
        for shared in await unapplied_shared_files(conn):
            await conn.execute(shared.sql)
            await conn.execute(
                "INSERT INTO public.shared_sql_applied (name, sha256) VALUES ($1, $2) "
                "ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256, applied_at = now()",
                shared.name,
                shared.sha256,
            )
            done.append(shared.name)
    return done


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


# The clinic schemas lacking any of the migrations $1 (distinct ids): one pass over the
# applied list, grouped per schema. (A NOT EXISTS probe per clinic and migration took 1.8 s
# at 10,000 clinics and 40 migrations; this takes 0.15 s: docs/benchmarks.md.)
SCHEMAS_BEHIND = """
SELECT t.schema_name
FROM public.tenants t
LEFT JOIN (SELECT m.schema_name, count(*) AS n
           FROM public.tenant_schema_migrations m
           WHERE m.migration_id = ANY($1::text[])
           GROUP BY m.schema_name) a ON a.schema_name = t.schema_name
WHERE coalesce(a.n, 0) < cardinality($1::text[])"""

SHARED_FUNCTIONS_MIGRATION = "0160_shared_functions"
SHARED_FUNCTIONS_DROP_MARKER = "-- Drop: every function this schema owns"
SHARED_FUNCTIONS_BATCH = 50  # clinics per transaction (their tables stay locked until commit)


async def apply_shared_functions_migration_in_batches(conn: asyncpg.Connection) -> int:
    """Tenant migration 0160 for the clinics that lack only it (and later ones), in batches.

    Applied per schema, 0160 costs ~50 ms per clinic at 300 clinics and grows with their
    number: each ``DROP FUNCTION``/``EXECUTE FUNCTION`` name lookup reads the name's row of
    every clinic still holding a copy, and each drop makes the next lookups read them again.
    Here a batch re-points every clinic's triggers first (no function changes: the name lists
    read once stay valid), then drops all the batch's copies in one statement (each name looked
    up once) — the same end state and record as the per-schema migration. Returns how many
    clinics it migrated; the caller holds the migrate lock.
    """
    by_id = {m.id: m for m in tenant_migrations()}
    migration = by_id.get(SHARED_FUNCTIONS_MIGRATION)
    if migration is None:
        return 0
    repoint, marker, _ = migration.sql.partition(SHARED_FUNCTIONS_DROP_MARKER)
    if not marker:
        raise RuntimeError(f"{migration.id} lacks its marker {SHARED_FUNCTIONS_DROP_MARKER!r}")
    before = [mid for mid in by_id if mid < migration.id]
    rows = await conn.fetch(
        """
        SELECT t.schema_name FROM public.tenants t
        WHERE NOT EXISTS (
            SELECT 1 FROM public.tenant_schema_migrations m
            WHERE m.schema_name = t.schema_name AND m.migration_id = $1)
          AND NOT EXISTS (
            SELECT 1 FROM unnest($2::text[]) AS w(id)
            WHERE NOT EXISTS (
                SELECT 1 FROM public.tenant_schema_migrations m
                WHERE m.schema_name = t.schema_name AND m.migration_id = w.id))
        ORDER BY t.schema_name
        """,
        migration.id,
        before,
    )
    schemas = [r["schema_name"] for r in rows]
    for start in range(0, len(schemas), SHARED_FUNCTIONS_BATCH):
        batch = schemas[start : start + SHARED_FUNCTIONS_BATCH]
        async with conn.transaction():
            for schema in batch:
                await conn.execute(f"SET LOCAL search_path TO {quote_ident(schema)}, public")
                await conn.execute(repoint)
            await conn.execute("SET LOCAL search_path TO public")
            drop = await conn.fetchval(
                """SELECT 'DROP FUNCTION ' || string_agg(format('%I.%I(%s)', n.nspname,
                              p.proname, pg_get_function_identity_arguments(p.oid)), ', ')
                   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = ANY ($1::text[])""",
                batch,
            )
            if drop is not None:
                await conn.execute(drop)  # no CASCADE, as in the migration
            await conn.executemany(
                "INSERT INTO public.tenant_schema_migrations (schema_name, migration_id) "
                "VALUES ($1, $2)",
                [(schema, migration.id) for schema in batch],
            )
    return len(schemas)


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
    shared_files_applied: int = 0


async def migrate_all(database_url: str) -> MigrateReport:
    """Migrate ``public``, then every tenant schema. Idempotent; serialised by an advisory lock."""
    started = time.perf_counter()
    lock_conn = await asyncpg.connect(database_url)
    try:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", MIGRATE_LOCK_KEY)
        await bootstrap_platform(lock_conn)
        await run_piccolo_forwards()
        # Before the tenant migrations: a clinic migrated below points its triggers at them.
        shared = await apply_shared_functions(lock_conn)
        bulk = await apply_shared_functions_migration_in_batches(lock_conn)
        wanted = [m.id for m in tenant_migrations()]
        # One query finds the schemas that lack any migration: a no-op run stays cheap.
        pending = await lock_conn.fetch(f"{SCHEMAS_BEHIND} ORDER BY t.schema_name", wanted)
        total = await lock_conn.fetchval("SELECT count(*) FROM public.tenants")
        applied = 0
        for row in pending:
            async with lock_conn.transaction():
                applied += len(await apply_tenant_migrations(lock_conn, row["schema_name"]))
        return MigrateReport(
            total,
            len(pending) + bulk,
            applied + bulk,
            time.perf_counter() - started,
            len(shared),
        )
    finally:
        try:
            await lock_conn.execute("SELECT pg_advisory_unlock($1)", MIGRATE_LOCK_KEY)
        finally:
            await lock_conn.close()
