"""WebRTC signalling for the built-in provider: a relay between the two browsers in a room.

Each websocket subscribes to the room's Redis pub/sub channel and publishes what its browser
sends; messages carry the sender's peer id so nobody hears their own. The two participants
may be connected to different app processes: Redis carries the messages between them.
The server only relays (offers, answers, ICE candidates are opaque to it) and adds who sent
them; it never sees media.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from typing import Any

from redis.asyncio import Redis

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024  # an SDP with many candidates stays well under this
# A call set-up is a few dozen messages (offer, answer, ICE candidates); far more per second
# is a misbehaving client, which is disconnected rather than relayed.
MAX_MESSAGES_PER_SECOND = 100


class TooChatty(Exception):
    """A browser sent more than ``MAX_MESSAGES_PER_SECOND``."""


RELAYED_TYPES = frozenset({"join", "present", "offer", "answer", "ice", "leave", "state"})

_pubsub_client: Redis | None = None


def _redis() -> Redis:
    """A client without socket timeout: a subscriber legitimately waits for minutes."""
    global _pubsub_client
    if _pubsub_client is None:
        _pubsub_client = Redis.from_url(os.environ["REDIS_URL"], health_check_interval=30)
    return _pubsub_client


async def close_signalling() -> None:
    global _pubsub_client
    if _pubsub_client is not None:
        await _pubsub_client.aclose()
        _pubsub_client = None


def channel(schema: str, room: str) -> str:
    namespace = os.environ.get("CAREBOOK_QUEUE_NAMESPACE", "carebook")
    return f"{namespace}:video:{schema}:{room}"


def new_peer_id() -> str:
    return secrets.token_hex(8)


def parse_client_message(raw: str) -> dict[str, Any] | None:
    """A browser's message if it is one we relay; anything else is dropped."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") not in RELAYED_TYPES:
        return None
    return data


class RoomLink:
    """One participant's subscription to a room channel."""

    def __init__(self, schema: str, room: str, peer: str, role: str, name: str) -> None:
        self.channel = channel(schema, room)
        self.peer, self.role, self.name = peer, role, name
        self._pubsub = _redis().pubsub()

    async def __aenter__(self) -> RoomLink:
        await self._pubsub.subscribe(self.channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.publish({"type": "leave"})
        with contextlib.suppress(Exception):
            await self._pubsub.unsubscribe(self.channel)
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def publish(self, message: dict[str, Any]) -> None:
        # The sender's identity is ours to say, never the browser's.
        stamped = {**message, "from": self.peer, "role": self.role, "name": self.name}
        await _redis().publish(self.channel, json.dumps(stamped))

    async def messages(self) -> Any:
        """Messages from the other participants, as they arrive."""
        while True:
            item = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=30)
            if item is None:
                continue
            try:
                data = json.loads(item["data"])
            except (ValueError, TypeError):
                continue
            if data.get("from") != self.peer:
                yield data


async def relay(link: RoomLink, receive: Any, send: Any) -> None:
    """Pump both ways until either side ends: browser → channel, channel → browser."""

    async def upstream() -> None:
        window_start, count = time.monotonic(), 0
        while True:
            raw = await receive()
            now = time.monotonic()
            if now - window_start >= 1.0:
                window_start, count = now, 0
            count += 1
            if count > MAX_MESSAGES_PER_SECOND:
                raise TooChatty
            message = parse_client_message(raw)
            if message is not None:
                await link.publish(message)
                if message["type"] == "leave":
                    return

    async def downstream() -> None:
        async for message in link.messages():
            await send(json.dumps(message))

    tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = None if task.cancelled() else task.exception()
            if isinstance(error, TooChatty):
                raise error
            if error is not None:
                log.debug("signalling ended: %r", error)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
