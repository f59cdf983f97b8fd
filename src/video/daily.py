"""Daily.co over its REST API (https://docs.daily.co/reference/rest-api) with httpx.

- Rooms are private, named from the appointment id, ``nbf``/``exp`` bracket the appointment,
  ``eject_at_room_exp`` ends the call at ``exp``; ``enable_recording`` only when allowed.
- Idempotent create: a retried create meets Daily's "already exists" and reads the room.
- 429 and 5xx are retried with backoff (``Retry-After`` honoured); requests are also paced
  under Daily's documented limits so a burst does not run into 429s in the first place.
- Error bodies ``{"error", "info"}`` become our errors (``video.errors``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from video.config import VideoSettings
from video.errors import (
    RoomAlreadyExists,
    RoomNotFound,
    VideoProviderMisconfigured,
    VideoProviderRejected,
    VideoProviderUnavailable,
)
from video.providers import Participant, Room, RoomSpec

log = logging.getLogger(__name__)

MAX_RETRY_WAIT = 30.0  # seconds: a Retry-After beyond this is not waited for


class Pacer:
    """Spaces requests at most ``rate`` per second in this process (no lock is held while
    waiting: each caller reserves the next free slot, then sleeps until it)."""

    def __init__(self, rate: float) -> None:
        # 10 % under the limit: our clock and theirs never agree on where a second starts.
        self.interval = 1.1 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


_pacers: dict[tuple[str, str, float], Pacer] = {}


def _pacer(api_url: str, kind: str, rate: float) -> Pacer:
    key = (api_url, kind, rate)
    if key not in _pacers:
        _pacers[key] = Pacer(rate)
    return _pacers[key]


def _epoch(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return int(instant.timestamp())


def _from_epoch(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


class DailyProvider:
    name = "daily"

    def __init__(
        self, settings: VideoSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ):
        if not settings.daily_api_key:
            raise VideoProviderMisconfigured("DAILY_API_KEY is not set.")
        self.settings = settings
        self._transport = transport
        self._pace = _pacer(settings.daily_api_url, "default", settings.daily_rate_per_second)
        self._pace_delete = _pacer(
            settings.daily_api_url, "delete", settings.daily_delete_rate_per_second
        )

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.settings.daily_api_url,
            headers={"Authorization": f"Bearer {self.settings.daily_api_key}"},
            timeout=self.settings.daily_timeout_seconds,
            transport=self._transport,
        )

    # -- the interface ------------------------------------------------------------------

    async def create_room(self, spec: RoomSpec) -> Room:
        body = {"name": spec.name, "privacy": "private", "properties": self._properties(spec)}
        async with self._client() as client:
            try:
                data = await self._call(client, "POST", "/rooms", body)
            except RoomAlreadyExists:
                # A previous attempt made it (or its response was lost): bring it in line.
                data = await self._call(client, "POST", f"/rooms/{spec.name}", self._update(spec))
        return self._room(data)

    async def update_room(self, spec: RoomSpec) -> Room:
        async with self._client() as client:
            data = await self._call(client, "POST", f"/rooms/{spec.name}", self._update(spec))
        return self._room(data)

    async def get_room(self, name: str) -> Room:
        async with self._client() as client:
            return self._room(await self._call(client, "GET", f"/rooms/{name}"))

    async def participant_token(self, room: Room, who: Participant) -> str:
        body = {
            "properties": {
                "room_name": room.name,
                "is_owner": who.owner,
                "user_name": who.user_name,
                "nbf": _epoch(room.opens_at),
                "exp": _epoch(room.closes_at),
            }
        }
        async with self._client() as client:
            data = await self._call(client, "POST", "/meeting-tokens", body)
        return str(data["token"])

    async def delete_room(self, name: str) -> bool:
        async with self._client() as client:
            try:
                await self._call(client, "DELETE", f"/rooms/{name}")
            except RoomNotFound:
                return False
        return True

    # -- wire shapes --------------------------------------------------------------------

    @staticmethod
    def _properties(spec: RoomSpec) -> dict[str, Any]:
        props: dict[str, Any] = {
            "nbf": _epoch(spec.opens_at),
            "exp": _epoch(spec.closes_at),
            "eject_at_room_exp": True,
        }
        if spec.recording:
            props["enable_recording"] = "cloud"
        return props

    def _update(self, spec: RoomSpec) -> dict[str, Any]:
        props = self._properties(spec)
        if not spec.recording:
            props["enable_recording"] = None  # switch recording off if it was ever on
        return {"privacy": "private", "properties": props}

    @staticmethod
    def _room(data: dict[str, Any]) -> Room:
        config = data.get("config") or {}
        return Room(
            name=data["name"],
            url=data.get("url"),
            opens_at=_from_epoch(config["nbf"]),
            closes_at=_from_epoch(config["exp"]),
            recording=bool(config.get("enable_recording")),
        )

    # -- transport: pacing, retries, error mapping ---------------------------------------

    async def _call(
        self, client: httpx.AsyncClient, method: str, path: str, body: Any = None
    ) -> dict[str, Any]:
        pacer = self._pace_delete if method == "DELETE" else self._pace
        attempts = max(1, self.settings.daily_max_attempts)
        response: httpx.Response | None = None
        for attempt in range(attempts):
            await pacer.wait()
            try:
                response = await client.request(method, path, json=body)
            except httpx.TransportError as exc:
                if attempt == attempts - 1:
                    raise VideoProviderUnavailable(f"Daily unreachable: {exc}") from exc
                await asyncio.sleep(_backoff(attempt))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if attempt == attempts - 1:
                    break
                wait = _retry_after(response)
                if wait is None:
                    wait = _backoff(attempt)
                elif wait > MAX_RETRY_WAIT:
                    break
                log.info("daily %s %s: %s, retrying in %.2fs", method, path,
                         response.status_code, wait)  # fmt: skip
                await asyncio.sleep(wait)
                continue
            break
        assert response is not None
        if response.is_success:
            data: dict[str, Any] = response.json()
            return data
        raise _error_for(response)


def _backoff(attempt: int) -> float:
    return float(min(8.0, 0.25 * 2**attempt) * random.uniform(0.8, 1.2))


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _error_for(response: httpx.Response) -> Exception:
    try:
        body = response.json()
    except ValueError:
        body = {}
    kind = str(body.get("error") or "")
    info = str(body.get("info") or response.reason_phrase)
    status = response.status_code
    if status == 404 or kind == "not-found":
        return RoomNotFound(f"Daily: {info}")
    if status in (401, 403) or kind in ("authentication-error", "authorization-header-error",
                                        "forbidden-error"):  # fmt: skip
        return VideoProviderMisconfigured(f"Daily refused our API key ({kind or status}).")
    if status == 429:
        retry = _retry_after(response)
        return VideoProviderUnavailable(
            "Daily kept rate-limiting us.", retry_after=int(retry or 30) or 1
        )
    if status >= 500:
        return VideoProviderUnavailable(f"Daily failed ({status}): {info}")
    if "already exists" in info:
        return RoomAlreadyExists(f"Daily: {info}")
    return VideoProviderRejected(f"Daily rejected the request ({kind or status}): {info}")


def daily_provider(settings: VideoSettings) -> DailyProvider:
    return DailyProvider(settings)
