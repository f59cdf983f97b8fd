"""Tenancy plumbing: schema names, the Tenant value, and tenant-scoped transactions."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from asyncpg.exceptions import DeadlockDetectedError, SerializationError

from carebook.errors import ValidationFailed
from carebook.pools import acquire, claimed, clinic_pool

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{2,39}$")
RESERVED_SLUGS = frozenset(
    {
        "admin", "api", "app", "assets", "auth", "c", "clinic", "clinics", "docs", "health",
        "help", "information-schema", "login", "logout", "me", "new", "pg-catalog", "platform",
        "public", "schema", "static", "status", "support", "system", "www",
    }
)  # fmt: skip

T = TypeVar("T")


def validate_slug(slug: str) -> str:
    if not SLUG_RE.fullmatch(slug or ""):
        raise ValidationFailed.field(
            "slug",
            "3-40 characters: a lowercase letter, then lowercase letters, digits or '-'.",
            code="invalid_slug",
        )
    if slug in RESERVED_SLUGS or slug.startswith("pg-"):
        raise ValidationFailed.field("slug", f"'{slug}' is reserved.", code="reserved_slug")
    return slug


def schema_for_slug(slug: str) -> str:
    """The tenant schema name: derived from a validated slug only (``-`` → ``_``, injective)."""
    return "clinic_" + validate_slug(slug).replace("-", "_")


@dataclass(frozen=True)
class ClinicSettings:
    """Per-clinic settings; defaults from the scheduling spec §1."""

    hold_minutes: int = 10
    low_rating_threshold: int = 3
    recording_allowed: bool = False
    video_provider: str | None = None  # "builtin" | "daily"; None: the platform default
    reminder_lead_hours: int = 24
    # Lifecycle (docs/lifecycle.md): patients cancel or reschedule online until this many hours
    # before the start; no-show may be recorded this many minutes after it.
    cancellation_cutoff_hours: int = 24
    no_show_grace_minutes: int = 10
    # Notifications (docs/notifications.md): reminder e-mails this many hours before the
    # start (several allowed), the language when the patient's is unknown, contact details
    # shown on pages, in messages and as the .ics LOCATION, and the phone-number region.
    reminder_leads_hours: tuple[int, ...] = (24,)
    default_language: str = "en"
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    country: str | None = None
    # Branding (tenants/clinic_settings.py): the staff-chosen accent colour, "#rrggbb" or "".
    accent_colour: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ClinicSettings:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("reminder_leads_hours"), list):
            known["reminder_leads_hours"] = tuple(known["reminder_leads_hours"])
        return cls(**known)


@dataclass(frozen=True)
class Tenant:
    id: UUID
    slug: str
    name: str
    schema: str
    timezone: str
    status: str
    settings: ClinicSettings = field(default_factory=ClinicSettings)

    @property
    def active(self) -> bool:
        return self.status == "active"


TENANT_COLUMNS = "id, slug, name, schema_name, timezone, status, settings, created_at"


def tenant_from_row(row: asyncpg.Record) -> Tenant:
    """A Tenant from a ``public.tenants`` row (``TENANT_COLUMNS``)."""
    settings = row["settings"]
    if isinstance(settings, str):
        settings = json.loads(settings)
    return Tenant(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        schema=row["schema_name"],
        timezone=row["timezone"],
        status=row["status"],
        settings=ClinicSettings.from_json(settings),
    )


async def tenant_by_schema(schema: str) -> Tenant | None:
    """The clinic whose schema is ``schema`` (jobs carry the schema, not the slug)."""
    row = await platform_fetchrow(
        f"SELECT {TENANT_COLUMNS} FROM public.tenants WHERE schema_name = $1", schema
    )
    return tenant_from_row(row) if row is not None else None


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _engine() -> Any:
    from carebook.piccolo_conf import DB

    return DB


# Pools of event loops other than the app's (Dramatiq's AsyncIO middleware runs actors on a
# loop of its own thread; an asyncpg pool serves one loop only).
_loop_pools: dict[asyncio.AbstractEventLoop, asyncpg.Pool] = {}


def register_loop_pool(pool: asyncpg.Pool) -> None:
    """Serve this event loop's tenant transactions from ``pool``."""
    _loop_pools[asyncio.get_running_loop()] = pool


def forget_loop_pool() -> asyncpg.Pool | None:
    return _loop_pools.pop(asyncio.get_running_loop(), None)


def _pool() -> asyncpg.Pool | None:
    loop = asyncio.get_running_loop()
    pool = _engine().pool
    if pool is not None and getattr(pool, "_loop", loop) is loop:
        return pool
    return _loop_pools.get(loop)


# Backend pid -> the clinic schemas its pooled connection has served. A PostgreSQL backend
# keeps the catalog entries, compiled PL/pgSQL and cached plans of every schema it touched
# (~2.5-3 MiB per clinic after booking flows, docs/benchmarks.md) and never gives them back.
_served: dict[int, set[str]] = {}


def max_clinics_per_connection() -> int:
    """``CAREBOOK_DB_MAX_CLINICS`` (default 50; 0 = unbounded): a pooled connection is
    replaced once it has served more clinics than this. Off behind PgBouncer, whose
    ``server_lifetime`` bounds the server connections instead (they are not ours)."""
    if os.environ.get("CAREBOOK_PGBOUNCER", "") in ("1", "true", "yes"):
        return 0
    return int(os.environ.get("CAREBOOK_DB_MAX_CLINICS") or 50)


async def _count_clinic(conn: asyncpg.Connection, schema: str) -> None:
    """Close ``conn`` (back to the pool, which reconnects on its next use) when it has now
    served more than ``max_clinics_per_connection()`` clinics."""
    limit = max_clinics_per_connection()
    if limit <= 0:
        return
    pid = conn.get_server_pid()
    served = _served.setdefault(pid, set())
    served.add(schema)
    if len(served) <= limit:
        return
    del _served[pid]
    if len(_served) > 10_000:  # pids of connections closed by other means (max_queries)
        _served.clear()
    from carebook import metrics

    metrics.DB_CONNECTIONS_RECYCLED.inc()
    await conn.close()


# Whether this task holds a pooled connection. A task that asks for a second one while it
# holds a first can deadlock a small pool (a worker's: every connection held by a task that
# waits for another); tests run with CAREBOOK_NESTED_CONNECTIONS=fail so none does. A task
# started while one is held copies the flag: none that takes its own connection is started
# so today (a long-lived one would have to reset it). Keeping the holding task instead made
# the cancellation storm of test_tenancy leave connections with pending waiters at pool
# close ("unexpected connection_lost() call", not understood; the flag never did).
_holding: ContextVar[bool] = ContextVar("carebook_holding_connection", default=False)


class NestedConnection(RuntimeError):
    """A task asked for a second pooled connection while holding one (tests only)."""


@asynccontextmanager
async def _connection(schema: str | None = None) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection of this event loop (a new one when none runs, e.g. in the CLI),
    given back however the block ends; asyncpg rolls back whatever is left open. ``schema``:
    the clinic served, counted towards the connection's replacement."""
    pool = (clinic_pool(schema) if schema is not None else None) or _pool()
    if pool is not None:
        if _holding.get() and os.environ.get("CAREBOOK_NESTED_CONNECTIONS") == "fail":
            raise NestedConnection("a second pooled connection while this task holds one")
        held = _holding.set(True)
        try:
            with claimed(pool):  # from before the acquire: see carebook.pools.claimed
                conn = await acquire(pool)
                try:
                    yield conn
                    if schema is not None:
                        await _count_clinic(conn, schema)
                finally:
                    await pool.release(conn)
        finally:
            _holding.reset(held)
        return
    conn = await _engine().get_new_connection()
    try:
        yield conn
    finally:
        await conn.close()


@asynccontextmanager
async def _transaction(
    search_path: str, schema: str | None = None
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction with ``search_path`` set for that transaction.

    Plain asyncpg, not Piccolo's transaction: that one leaks its pooled connection when the
    task is cancelled while it sends BEGIN (``__aexit__`` never runs), which left shutdown
    waiting for the pool. Piccolo ORM queries do not join it: domain code speaks SQL in it.
    """
    async with _connection(schema) as conn, conn.transaction():
        await conn.execute(f"SET LOCAL search_path TO {search_path}")
        yield conn


@asynccontextmanager
async def tenant_tx(tenant: Tenant | str) -> AsyncIterator[asyncpg.Connection]:
    """A transaction whose ``search_path`` is the tenant's schema (then ``public``)."""
    schema = tenant.schema if isinstance(tenant, Tenant) else tenant
    async with _transaction(f"{quote_ident(schema)}, public", schema) as conn:
        yield conn


@asynccontextmanager
async def platform_tx() -> AsyncIterator[asyncpg.Connection]:
    """A transaction on the platform schema only."""
    async with _transaction("public") as conn:
        yield conn


async def _fetch(query: str, *args: Any, schema: str | None = None) -> list[asyncpg.Record]:
    """One statement outside any transaction block."""
    async with _connection(schema) as conn:
        rows: list[asyncpg.Record] = await conn.fetch(query, *args)
    return rows


async def platform_fetchrow(query: str, *args: Any) -> asyncpg.Record | None:
    """One schema-qualified read outside any transaction block (a single round trip)."""
    rows = await _fetch(query, *args)
    return rows[0] if rows else None


async def _retrying(attempt_once: Callable[[], Awaitable[T]], attempts: int) -> T:
    """Run ``attempt_once`` again on serialization failures and deadlocks (with jitter)."""
    for attempt in range(attempts):
        try:
            return await attempt_once()
        except (SerializationError, DeadlockDetectedError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(random.uniform(0.005, 0.02) * (2**attempt))
    raise AssertionError("unreachable")


async def run_in_tenant_tx(
    tenant: Tenant, work: Callable[[asyncpg.Connection], Awaitable[T]], *, attempts: int = 6
) -> T:
    """Run ``work`` in a tenant transaction, retrying serialization failures and deadlocks."""

    async def once() -> T:
        async with tenant_tx(tenant) as conn:
            return await work(conn)

    return await _retrying(once, attempts)


async def call_in_schema(
    tenant: Tenant, query: str, *args: Any, attempts: int = 6
) -> list[asyncpg.Record]:
    """One statement as its own transaction, the tenant's schema passed as ``$1``.

    Meant for an entry point that is a whole use case (``public.<fn>_in(p_schema, …)``, which
    puts ``p_schema`` first on the search_path until it returns: docs/architecture.md,
    "Shared functions"): one round trip, no BEGIN/COMMIT, no search_path change on the
    connection. ``args`` are ``$2`` onwards. Serialization failures and deadlocks are retried
    like ``run_in_tenant_tx``.
    """

    async def once() -> list[asyncpg.Record]:
        return await _fetch(query, tenant.schema, *args, schema=tenant.schema)

    return await _retrying(once, attempts)
