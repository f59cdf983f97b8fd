"""A correct ``Allow`` header on OPTIONS answers.

Litestar adds one OPTIONS handler per path, made by the first ``HTTPRoute`` built for it and
reporting that route's methods; when a controller adds more handlers to the same path the
route is rebuilt but keeps the first OPTIONS handler, so ``OPTIONS /…/specialists`` answered
``Allow: OPTIONS, POST`` for a path that also serves GET (schemathesis' Allow-header check).
This middleware rewrites the header from the methods of the route that matched.
"""

from __future__ import annotations

from typing import Any

from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

_by_template: dict[int, dict[str, str]] = {}


def _allowed(app: Any) -> dict[str, str]:
    table = _by_template.get(id(app))
    if table is None:
        table = {
            route.path_format: ", ".join(sorted(route.methods))
            for route in app.routes
            if isinstance(route, HTTPRoute)
        }
        _by_template[id(app)] = table
    return table


def allow_header_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "OPTIONS":
            await app(scope, receive, send)
            return
        allow = _allowed(scope["litestar_app"]).get(scope.get("path_template", ""))  # type: ignore[typeddict-item]

        async def send_with_allow(message: Message) -> None:
            if allow and message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                headers.append((b"allow", allow.encode("latin-1")))
                message = {**message, "headers": headers}  # type: ignore[typeddict-item]
            await send(message)

        await app(scope, receive, send_with_allow)

    return middleware
