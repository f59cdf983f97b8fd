"""The process's shared asyncio Redis client."""

from __future__ import annotations

import os

from redis.asyncio import Redis

_client: Redis | None = None


def redis_client() -> Redis:
    global _client
    if _client is None:
        _client = Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2)
    return _client


async def close_redis() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None
