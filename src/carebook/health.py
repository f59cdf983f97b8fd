"""Operations endpoints: ``/health`` (liveness), ``/ready`` (readiness), ``/metrics``.

``/health`` answers as long as the process serves requests: an orchestrator restarts the
process when it fails, so it must not depend on the database (a database outage would
otherwise restart every app process for nothing). ``/ready`` says whether this process can
serve traffic now — database (the platform pool and each clinic group), Redis, this
process's events LISTEN connection, migrations current — and is 503 while any of them is
not; a load balancer takes the process out of rotation and back in when it recovers.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from litestar import MediaType, Request, Response, get

from carebook import metrics
from carebook.errors import Unauthorized

CHECK_TIMEOUT_SECONDS = 2.0
# Migrations change only with a deploy (that migrates first); a current answer is kept.
MIGRATIONS_OK_CACHE_SECONDS = 30.0
_migrations_ok_until = 0.0


@get("/health", tags=["platform"], summary="Liveness: the process serves requests")
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def _database() -> str:
    from carebook.pools import free_group_pools
    from carebook.tenancy import _connection

    async with _connection() as conn:
        await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT_SECONDS)
    # Clinic groups open their connections on demand: when the server takes no new ones,
    # clinic requests fail while the platform pool's open connections still answer. A group
    # with every connection serving a request has nothing to prove and none to lend.
    await asyncio.gather(*(_group(pool) for pool in free_group_pools()))
    return "ok"


async def _group(pool: Any) -> None:
    try:
        conn = await pool.acquire(timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return  # its connections were all taken meanwhile: busy, not broken
    except Exception as exc:
        raise RuntimeError(f"a clinic group's connection failed: {exc!r}") from exc
    try:
        await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        raise RuntimeError(f"a clinic group's connection failed: {exc!r}") from exc
    finally:
        await pool.release(conn)


async def _redis() -> str:
    from carebook.redis import redis_client

    await redis_client().ping()
    return "ok"


async def _listen() -> str:
    from carebook.events.hub import HubClosed, get_hub

    try:
        hub = get_hub()
    except HubClosed as exc:
        raise RuntimeError("the events hub is not running") from exc
    if not hub.listening:
        raise RuntimeError("the events listener connection is down (reconnecting)")
    return "ok"


def _platform_migration_ids() -> set[tuple[str, str]]:
    from piccolo.apps.migrations.commands.base import BaseMigrationManager

    manager = BaseMigrationManager()
    wanted: set[tuple[str, str]] = set()
    for module in manager.get_app_modules():
        config = module.APP_CONFIG
        modules = manager.get_migration_modules(config.resolved_migrations_folder_path)
        wanted |= {(config.app_name, mid) for mid in manager.get_migration_ids(modules)}
    return wanted


async def _migrations() -> str:
    global _migrations_ok_until
    if time.monotonic() < _migrations_ok_until:
        return "ok"
    from carebook.migrations import SCHEMAS_BEHIND, tenant_migrations, unapplied_shared_files
    from carebook.tenancy import _connection

    wanted = [m.id for m in tenant_migrations()]
    async with _connection() as conn:
        # The clinic functions in public are those of this code (docs/architecture.md).
        stale = await unapplied_shared_files(conn, query_timeout=CHECK_TIMEOUT_SECONDS)
        applied = {(r["app_name"], r["name"]) for r in await conn.fetch(
            "SELECT app_name, name FROM public.migration")}  # fmt: skip
        behind = await conn.fetchval(
            f"SELECT count(*) FROM ({SCHEMAS_BEHIND}) behind", wanted, timeout=CHECK_TIMEOUT_SECONDS
        )
    missing = _platform_migration_ids() - applied
    if missing:
        raise RuntimeError(f"{len(missing)} platform migrations not applied: run carebook migrate")
    if behind:
        raise RuntimeError(f"{behind} clinic schemas are behind: run carebook migrate")
    if stale:
        raise RuntimeError(f"{len(stale)} shared function files not applied: run carebook migrate")
    _migrations_ok_until = time.monotonic() + MIGRATIONS_OK_CACHE_SECONDS
    return "ok"


CHECKS = {
    "database": _database,
    "redis": _redis,
    "events_listener": _listen,
    "migrations": _migrations,
}


async def _run(check: Any) -> dict[str, Any]:
    try:
        return {"ok": True, "detail": await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)}
    except Exception as exc:
        return {"ok": False, "detail": str(exc) or type(exc).__name__}


@get("/ready", tags=["platform"], summary="Readiness: database, Redis, events listener, migrations")
async def ready() -> Response[dict[str, Any]]:
    results = await asyncio.gather(*(_run(check) for check in CHECKS.values()))
    checks = dict(zip(CHECKS, results, strict=True))
    ok = all(r["ok"] for r in results)
    return Response(
        {"status": "ready" if ok else "not_ready", "checks": checks},
        status_code=200 if ok else 503,
        headers={"Cache-Control": "no-store"},
    )


@get("/metrics", tags=["platform"], summary="Prometheus metrics", include_in_schema=False)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Open unless ``CAREBOOK_METRICS_TOKEN`` is set; then a bearer token is required."""
    if (token := os.environ.get("CAREBOOK_METRICS_TOKEN")) and request.headers.get(
        "authorization"
    ) != f"Bearer {token}":
        raise Unauthorized("Send 'Authorization: Bearer <CAREBOOK_METRICS_TOKEN>'.")
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type or MediaType.TEXT)


async def _sample_forever() -> None:
    while True:
        metrics.sample_process_gauges()
        await asyncio.sleep(5)


_sampler: asyncio.Task[None] | None = None


async def start_metrics() -> None:
    """Multi-process mode: keep this process's gauges current for whichever one is scraped."""
    global _sampler
    if metrics.MULTIPROCESS and _sampler is None:
        _sampler = asyncio.create_task(_sample_forever(), name="carebook-metrics-sampler")


async def stop_metrics() -> None:
    global _sampler
    task, _sampler = _sampler, None
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    metrics.process_exited()


route_handlers: list[Any] = [health, ready, metrics_endpoint]
