"""Fixed-window rate limits per client address, counted in Redis (shared by all processes)."""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any

from litestar import Request
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from carebook.errors import RateLimited
from carebook.redis import redis_client
from carebook.settings import get_settings

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60

# One round trip per counted request: INCR, and set the expiry when the window's key is new.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
_script: tuple[Redis, AsyncScript] | None = None


def _count_script() -> AsyncScript:
    """The counting script of the current client (a new client gets its own)."""
    global _script
    client = redis_client()
    if _script is None or _script[0] is not client:
        _script = (client, client.register_script(_COUNT))
    return _script[1]


def client_address(request: Request[Any, Any, Any]) -> str:
    """The caller's address; X-Forwarded-For is believed only from a trusted proxy."""
    peer = request.client.host if request.client else "unknown"
    trusted = get_settings().trusted_proxies
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in trusted:
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            return peer
    return peer


def _per_minute(bucket: str) -> int:
    s = get_settings()
    return {
        "hold": s.hold_rate_per_minute,
        "booking": s.booking_rate_per_minute,
        "login": s.login_rate_per_minute,
        "read": s.read_rate_per_minute,
        "stream": s.stream_rate_per_minute,
        "sign_in": s.sign_in_rate_per_minute,
    }[bucket]


async def limit(request: Request[Any, Any, Any], scope: str, bucket: str) -> None:
    """Count one request of ``bucket`` for this client; 429 with Retry-After past the limit."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"carebook:rl:{bucket}:{scope}:{client_address(request)}:{window}"
    try:
        count = await _count_script()(keys=[key], args=[WINDOW_SECONDS + 1])
    except RedisError:
        # Availability of booking beats strict limiting when Redis blips; say so loudly.
        log.warning("rate limiter unavailable; allowing %s", key, exc_info=True)
        return
    if int(count) > _per_minute(bucket):
        raise RateLimited(retry_after=max(1, WINDOW_SECONDS - int(now % WINDOW_SECONDS)))
