"""Video settings: the platform default provider, Daily.co credentials, ICE servers, windows.

Read from the environment once (like ``carebook.settings``); kept in the video domain so the
kernel's settings do not grow a third party's options.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

PROVIDERS = ("builtin", "daily")
# The spec: participants may join from 15 minutes before the start.
JOIN_EARLY = timedelta(minutes=15)


@dataclass(frozen=True)
class VideoSettings:
    default_provider: str = "builtin"
    daily_api_key: str | None = None
    daily_api_url: str = "https://api.daily.co/v1"
    # How long after the appointment's end the room stays open (then it is ejected/swept).
    grace: timedelta = timedelta(minutes=30)
    # Daily's documented limits: ~20 requests/s for most endpoints, 2/s for DELETE.
    daily_rate_per_second: float = 20.0
    daily_delete_rate_per_second: float = 2.0
    daily_max_attempts: int = 6
    daily_timeout_seconds: float = 10.0
    # RTCIceServer dicts for the built-in provider: [{"urls": [...], "username", "credential"}].
    ice_servers: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls) -> VideoSettings:
        provider = os.environ.get("CAREBOOK_VIDEO_PROVIDER", "builtin")
        if provider not in PROVIDERS:
            raise RuntimeError(f"CAREBOOK_VIDEO_PROVIDER must be one of {PROVIDERS}")
        return cls(
            default_provider=provider,
            daily_api_key=os.environ.get("DAILY_API_KEY") or None,
            daily_api_url=os.environ.get("DAILY_API_URL", "https://api.daily.co/v1").rstrip("/"),
            grace=timedelta(minutes=int(os.environ.get("CAREBOOK_VIDEO_GRACE_MINUTES") or 30)),
            daily_rate_per_second=float(os.environ.get("DAILY_RATE_PER_SECOND") or 20),
            daily_delete_rate_per_second=float(os.environ.get("DAILY_DELETE_RATE_PER_SECOND") or 2),
            ice_servers=_ice_servers(),
        )


def _ice_servers() -> tuple[dict[str, Any], ...]:
    """``CAREBOOK_ICE_SERVERS`` (JSON list of RTCIceServer), else STUN/TURN from parts."""
    raw = os.environ.get("CAREBOOK_ICE_SERVERS")
    if raw:
        servers = json.loads(raw)
        if not isinstance(servers, list) or not all(
            isinstance(s, dict) and "urls" in s for s in servers
        ):
            raise RuntimeError("CAREBOOK_ICE_SERVERS must be a JSON list of {urls, ...}")
        return tuple(servers)
    found: list[dict[str, Any]] = []
    if stun := os.environ.get("CAREBOOK_STUN_URLS"):
        found.append({"urls": stun.split(",")})
    if turn := os.environ.get("CAREBOOK_TURN_URLS"):
        found.append(
            {
                "urls": turn.split(","),
                "username": os.environ.get("CAREBOOK_TURN_USERNAME", ""),
                "credential": os.environ.get("CAREBOOK_TURN_CREDENTIAL", ""),
            }
        )
    return tuple(found)


@lru_cache(maxsize=1)
def get_video_settings() -> VideoSettings:
    return VideoSettings.from_env()
