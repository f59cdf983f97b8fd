"""A local fake of Daily's REST API (the parts Carebook uses), on a real port.

It enforces what the real one does and we rely on: bearer auth (missing header → 400
``authorization-header-error``, wrong key → 401 ``authentication-error``), JSON bodies
(``json-parsing-error``), the room/token schemas (unknown or mistyped properties →
``invalid-request-error``), room name rules (``[A-Za-z0-9_-]``, ≤ 41 characters), duplicate
names ("already exists"), 404 ``not-found`` bodies, and rate limits (per second: 20 for most
endpoints, 2 for DELETE; 429 ``rate-limit-error`` with ``Retry-After``). Faults can be
injected (``fail_next``) to exercise 5xx handling. Every error body is ``{"error", "info"}``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,41}$")
PRIVACY = ("public", "private", "org")
RECORDING = ("cloud", "local", "raw-tracks", "cloud-audio-only")
ROOM_PROPERTIES: dict[str, tuple[type, ...]] = {
    "nbf": (int,),
    "exp": (int,),
    "eject_at_room_exp": (bool,),
    "enable_recording": (str, type(None)),
    "max_participants": (int,),
    "enable_chat": (bool,),
    "start_video_off": (bool,),
}
TOKEN_PROPERTIES: dict[str, tuple[type, ...]] = {
    "room_name": (str,),
    "is_owner": (bool,),
    "user_name": (str,),
    "nbf": (int,),
    "exp": (int,),
    "enable_recording": (str,),
}


class FakeDailyError(Exception):
    def __init__(self, status: int, error: str, info: str, headers: dict[str, str] | None = None):
        super().__init__(info)
        self.status, self.error, self.info, self.headers = status, error, info, headers or {}


@dataclass
class FakeDaily:
    api_key: str = field(default_factory=lambda: "fake-" + secrets.token_hex(16))
    domain: str = "carebook-test"
    rate_per_second: int = 20
    delete_rate_per_second: int = 2
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    responses: list[int] = field(default_factory=list)
    _faults: deque[tuple[int, str]] = field(default_factory=deque)
    _windows: dict[str, deque[float]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    url: str = ""

    # -- test controls -------------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1, error: str = "server-error") -> None:
        """The next ``times`` requests (after auth) answer ``status`` with ``error``."""
        for _ in range(times):
            self._faults.append((status, error))

    def count(self, method: str, prefix: str = "") -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.startswith(prefix))

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/v1/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the protocol --------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        try:
            response = await self._handle(request)
        except FakeDailyError as exc:
            response = web.json_response(
                {"error": exc.error, "info": exc.info}, status=exc.status, headers=exc.headers
            )
        self.responses.append(response.status)
        return response

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"].rstrip("/")
        body = await self._body(request)
        self.requests.append((request.method, path, body))
        self._authenticate(request)
        self._rate_limit(request.method)
        if self._faults:
            status, error = self._faults.popleft()
            raise FakeDailyError(status, error, "injected fault")
        method = request.method
        if path == "/rooms" and method == "POST":
            return self._create_room(body)
        if path == "/meeting-tokens" and method == "POST":
            return self._create_token(body)
        if path.startswith("/rooms/") and path.count("/") == 2:
            name = path.removeprefix("/rooms/")
            if method == "GET":
                return web.json_response(self._room(name))
            if method == "POST":
                return self._update_room(name, body)
            if method == "DELETE":
                self._room(name)
                del self.rooms[name]
                return web.json_response({"deleted": True, "name": name})
        raise FakeDailyError(404, "not-found", f"{method} {path} is not an endpoint")

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise FakeDailyError(400, "json-parsing-error", "request body is not JSON") from None

    def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization")
        if not header:
            raise FakeDailyError(400, "authorization-header-error", "missing Authorization header")
        scheme, _, key = header.partition(" ")
        if scheme != "Bearer" or not key:
            raise FakeDailyError(400, "authorization-header-error",
                                 "bad Authorization header format")  # fmt: skip
        if not secrets.compare_digest(key, self.api_key):
            raise FakeDailyError(401, "authentication-error", "the API key is not valid")

    def _rate_limit(self, method: str) -> None:
        kind, limit = ("delete", self.delete_rate_per_second) if method == "DELETE" else (
            "default", self.rate_per_second)  # fmt: skip
        window = self._windows.setdefault(kind, deque())
        now = time.monotonic()
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            retry = max(0.05, 1.0 - (now - window[0]))
            raise FakeDailyError(429, "rate-limit-error", "too many requests",
                                 {"Retry-After": f"{retry:.2f}"})  # fmt: skip
        window.append(now)

    @staticmethod
    def _check_properties(props: Any, schema: dict[str, tuple[type, ...]]) -> dict[str, Any]:
        if props is None:
            return {}
        if not isinstance(props, dict):
            raise FakeDailyError(400, "invalid-request-error", "properties must be an object")
        for key, value in props.items():
            if key not in schema:
                raise FakeDailyError(400, "invalid-request-error", f"unknown property '{key}'")
            types = schema[key]
            # bool is an int in Python; Daily's JSON schema tells them apart.
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise FakeDailyError(400, "invalid-request-error", f"'{key}' has the wrong type")
        if props.get("enable_recording") not in (None, *RECORDING):
            raise FakeDailyError(400, "invalid-request-error", "bad enable_recording value")
        if "nbf" in props and "exp" in props and props["nbf"] >= props["exp"]:
            raise FakeDailyError(400, "invalid-request-error", "nbf must be before exp")
        return props

    def _create_room(self, body: Any) -> web.Response:
        if not isinstance(body, dict):
            raise FakeDailyError(400, "invalid-request-error", "body must be an object")
        unknown = set(body) - {"name", "privacy", "properties"}
        if unknown:
            raise FakeDailyError(400, "invalid-request-error", f"unknown field {sorted(unknown)}")
        name = body.get("name") or uuid.uuid4().hex[:20]
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise FakeDailyError(400, "invalid-request-error",
                                 "name may only contain A-Z a-z 0-9 - _ (max 41)")  # fmt: skip
        privacy = body.get("privacy", "public")
        if privacy not in PRIVACY:
            raise FakeDailyError(400, "invalid-request-error", f"bad privacy '{privacy}'")
        props = self._check_properties(body.get("properties"), ROOM_PROPERTIES)
        if name in self.rooms:
            raise FakeDailyError(
                400, "invalid-request-error", f"a room named {name} already exists"
            )
        self.rooms[name] = {
            "id": str(uuid.uuid4()),
            "name": name,
            "api_created": True,
            "privacy": privacy,
            "url": f"https://{self.domain}.daily.co/{name}",
            "created_at": datetime.now(UTC).isoformat(),
            "config": {k: v for k, v in props.items() if v is not None},
        }
        return web.json_response(self.rooms[name])

    def _room(self, name: str) -> dict[str, Any]:
        if name not in self.rooms:
            raise FakeDailyError(404, "not-found", f"room {name} not found")
        return self.rooms[name]

    def _update_room(self, name: str, body: Any) -> web.Response:
        room = self._room(name)
        if not isinstance(body, dict) or set(body) - {"privacy", "properties"}:
            raise FakeDailyError(400, "invalid-request-error", "bad room update")
        if "privacy" in body:
            if body["privacy"] not in PRIVACY:
                raise FakeDailyError(400, "invalid-request-error", "bad privacy")
            room["privacy"] = body["privacy"]
        props = self._check_properties(body.get("properties"), ROOM_PROPERTIES)
        config = {**room["config"], **props}
        nbf, exp = config.get("nbf"), config.get("exp")
        if nbf is not None and exp is not None and nbf >= exp:
            raise FakeDailyError(400, "invalid-request-error", "nbf must be before exp")
        room["config"] = {k: v for k, v in config.items() if v is not None}
        return web.json_response(room)

    def _create_token(self, body: Any) -> web.Response:
        if not isinstance(body, dict) or set(body) - {"properties"}:
            raise FakeDailyError(400, "invalid-request-error", "body must be {properties}")
        props = self._check_properties(body.get("properties"), TOKEN_PROPERTIES)
        if "room_name" not in props:
            raise FakeDailyError(400, "invalid-request-error", "room_name is required")
        token = "eyJ" + secrets.token_urlsafe(48)
        self.tokens[token] = props
        return web.json_response({"token": token})
