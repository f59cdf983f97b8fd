"""Clinics: lookup, onboarding (one transaction), suspension."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from carebook.errors import ClinicSuspended, Conflict, TenantNotFound
from carebook.migrations import MIGRATE_LOCK_KEY, apply_tenant_migrations
from carebook.tenancy import (
    TENANT_COLUMNS,
    ClinicSettings,
    Tenant,
    platform_fetchrow,
    platform_tx,
    quote_ident,
    schema_for_slug,
    tenant_from_row,
    tenant_tx,
)
from carebook.zones import valid_zone
from tenants import password_links, staff

_TENANT_COLUMNS = TENANT_COLUMNS


def clinic_json(row: asyncpg.Record) -> dict[str, Any]:
    t = tenant_from_row(row)
    return {
        "id": t.id,
        "slug": t.slug,
        "name": t.name,
        "timezone": t.timezone,
        "status": t.status,
        "settings": t.settings.__dict__,
        "created_at": row["created_at"],
    }


# slug -> (valid until, Tenant): every request resolves its clinic, so a short per-process
# cache saves a round trip on the hot path. Status changes made through this process drop
# the entry at once; elsewhere they apply within the TTL.
_cache: dict[str, tuple[float, Tenant]] = {}


def _cache_ttl() -> float:
    return float(os.environ.get("CAREBOOK_TENANT_CACHE_SECONDS", "2"))


def forget_cached(slug: str) -> None:
    """Drop this process' cached registry row of ``slug`` (after the admin changed it)."""
    _cache.pop(slug, None)


async def find_tenant(slug: str) -> Tenant:
    """The clinic for a slug (any status); unknown or malformed slugs are a 404."""
    cached = _cache.get(slug)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    row = await platform_fetchrow(
        f"SELECT {_TENANT_COLUMNS} FROM public.tenants WHERE slug = $1", slug
    )
    if row is None:
        raise TenantNotFound(f"There is no clinic '{slug}'.")
    tenant = tenant_from_row(row)
    if (ttl := _cache_ttl()) > 0:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[slug] = (time.monotonic() + ttl, tenant)
    return tenant


async def active_tenant(slug: str) -> Tenant:
    tenant = await find_tenant(slug)
    if not tenant.active:
        raise ClinicSuspended(f"The clinic '{slug}' is suspended.")
    return tenant


@dataclass(frozen=True)
class Onboarded:
    row: asyncpg.Record
    admin_token: str
    """The clinic admin's API token (shown once)."""
    set_password_url: str
    """The clinic admin's one-time link to choose a password (also e-mailed to them)."""


async def onboard_clinic(
    *, slug: str, name: str, timezone: str, admin_email: str, admin_name: str = "Clinic admin"
) -> tuple[asyncpg.Record, str]:
    """Create a clinic (see ``onboard``); returns the registry row and the admin's API token."""
    done = await onboard(
        slug=slug, name=name, timezone=timezone, admin_email=admin_email, admin_name=admin_name
    )
    return done.row, done.admin_token


async def onboard(
    *, slug: str, name: str, timezone: str, admin_email: str, admin_name: str = "Clinic admin"
) -> Onboarded:
    """Create the clinic's registry row, schema, tables and defaults in one transaction.

    The clinic admin gets a one-time API token and a one-time set-password link (its
    invitation e-mail is queued as a job of the notifications domain).
    """
    schema = schema_for_slug(slug)
    valid_zone(timezone)
    try:
        async with platform_tx() as conn:
            # Shared: many onboardings at once, but never during a migration run.
            await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", MIGRATE_LOCK_KEY)
            row = await conn.fetchrow(
                f"""INSERT INTO tenants (slug, schema_name, name, timezone)
                    VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
                    RETURNING {_TENANT_COLUMNS}""",
                slug,
                schema,
                name,
                timezone,
            )
            if row is None:
                raise Conflict(f"The slug '{slug}' is taken.", code="slug_taken")
            await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
            await apply_tenant_migrations(conn, schema)
            admin_id = await staff.create_staff_user(
                conn, email=admin_email, name=admin_name, role="admin"
            )
            token = await staff.issue_token(conn, admin_id, "onboarding")
            await conn.execute(f"SET LOCAL search_path TO {quote_ident(schema)}, public")
            url = await password_links.issue_link(conn, slug, admin_id, "invite")
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"The slug '{slug}' is taken.", code="slug_taken") from exc
    return Onboarded(row, token, url)


async def clinic_row(slug: str) -> asyncpg.Record:
    async with platform_tx() as conn:
        row = await conn.fetchrow(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE slug = $1", slug)
    if row is None:
        raise TenantNotFound(f"There is no clinic '{slug}'.")
    return row


async def list_clinics() -> list[asyncpg.Record]:
    async with platform_tx() as conn:
        rows: list[asyncpg.Record] = await conn.fetch(
            f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY slug"
        )
        return rows


async def set_clinic_status(slug: str, status: str) -> asyncpg.Record:
    _cache.pop(slug, None)
    async with platform_tx() as conn:
        row = await conn.fetchrow(
            f"UPDATE tenants SET status = $2 WHERE slug = $1 RETURNING {_TENANT_COLUMNS}",
            slug,
            status,
        )
    if row is None:
        raise TenantNotFound(f"There is no clinic '{slug}'.")
    return row


async def staff_of(tenant: Tenant, staff_id: UUID) -> asyncpg.Record | None:
    async with tenant_tx(tenant) as conn:
        return await conn.fetchrow(
            "SELECT id, email, name, role, active FROM staff_users WHERE id = $1", staff_id
        )


async def update_clinic_settings(tenant: Tenant, changes: dict[str, Any]) -> ClinicSettings:
    """Merge validated ``changes`` into the clinic's settings (``null`` removes a key)."""
    _cache.pop(tenant.slug, None)
    async with platform_tx() as conn:
        row = await conn.fetchrow(
            """UPDATE tenants
               SET settings = jsonb_strip_nulls(coalesce(settings, '{}'::jsonb) || $2::jsonb)
               WHERE id = $1 RETURNING settings""",
            tenant.id,
            json.dumps(changes),
        )
    if row is None:
        raise TenantNotFound(f"There is no clinic '{tenant.slug}'.")
    _cache.pop(tenant.slug, None)
    settings = row["settings"]
    return ClinicSettings.from_json(json.loads(settings) if isinstance(settings, str) else settings)
