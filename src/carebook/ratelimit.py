"""Fixed-window rate limits per client address, counted in Redis (shared by all processes)."""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any

from litestar import Request
from redis.exceptions import RedisError

from carebook.errors import RateLimited
from carebook.redis import redis_client
from carebook.settings import get_settings

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60


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
    }[bucket]


async def limit(request: Request[Any, Any, Any], scope: str, bucket: str) -> None:
    """Count one request of ``bucket`` for this client; 429 with Retry-After past the limit."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"carebook:rl:{bucket}:{scope}:{client_address(request)}:{window}"
    try:
        async with redis_client().pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 1)
            count, _ = await pipe.execute()
    except RedisError:
        # Availability of booking beats strict limiting when Redis blips; say so loudly.
        log.warning("rate limiter unavailable; allowing %s", key, exc_info=True)
        return
    if int(count) > _per_minute(bucket):
        raise RateLimited(retry_after=max(1, WINDOW_SECONDS - int(now % WINDOW_SECONDS)))
