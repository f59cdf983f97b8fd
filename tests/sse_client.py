"""A small Server-Sent Events client for tests (httpx streaming against a live server).

    async with open_sse(live_server.url, f"{clinic.public}/calendars/{cal}/events") as sse:
        opening = await sse.ready()            # the `retry:` block: the server has subscribed
        event = await sse.event()              # the next block that carries data
        assert event.event == "slot.held" and event.json()["specialist_id"] == str(sid)

Litestar's in-process test client buffers streamed bodies, so SSE must be read from a real
server (``live_server``, ``live_server_b`` or ``start_live_server``). Every wait is bounded:
a missing event fails the test after ``timeout`` seconds instead of hanging it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class SseMessage:
    """One block of the stream (up to a blank line), parsed per the WHATWG rules."""

    id: str | None = None
    event: str | None = None
    data: str | None = None  # None: the block had no data line (it dispatches no event)
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def is_event(self) -> bool:
        return self.data is not None

    def json(self) -> Any:
        assert self.data is not None, self
        return json.loads(self.data)


class StreamEnded(Exception):
    """The server closed the stream."""


class SseStream:
    """Reads blocks from a streaming httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.last_event_id: str | None = None  # what a browser would send on reconnect
        self.closed = False

    async def message(self, timeout: float = 5.0) -> SseMessage:
        """The next block of any kind (event, comment, `retry:`/`id:`-only)."""
        return await asyncio.wait_for(self._read_block(), timeout)

    async def ready(self, timeout: float = 10.0) -> SseMessage:
        """The opening block; once it arrived the server has subscribed this stream."""
        first = await self.message(timeout)
        assert first.retry is not None, f"the stream must open with retry:, got {first}"
        return first

    async def event(self, timeout: float = 5.0) -> SseMessage:
        """The next block that dispatches an event (skips comments and id-only blocks)."""

        async def next_event() -> SseMessage:
            while True:
                block = await self._read_block()
                if block.is_event:
                    return block

        return await asyncio.wait_for(next_event(), timeout)

    async def events(self, count: int, timeout: float = 5.0) -> list[SseMessage]:
        """The next ``count`` events (``timeout`` for all of them together)."""

        async def collect() -> list[SseMessage]:
            return [await self.event(timeout) for _ in range(count)]

        return await asyncio.wait_for(collect(), timeout)

    async def until(
        self, predicate: Callable[[SseMessage], bool], timeout: float = 5.0
    ) -> list[SseMessage]:
        """Every block up to and including the first for which ``predicate`` holds."""

        async def collect() -> list[SseMessage]:
            seen = []
            while True:
                block = await self._read_block()
                seen.append(block)
                if predicate(block):
                    return seen

        return await asyncio.wait_for(collect(), timeout)

    async def end(self, timeout: float = 5.0) -> list[SseMessage]:
        """Every remaining block until the server ends the stream."""

        async def drain() -> list[SseMessage]:
            rest = []
            while True:
                try:
                    rest.append(await self._read_block())
                except StreamEnded:
                    return rest

        return await asyncio.wait_for(drain(), timeout)

    async def _read_block(self) -> SseMessage:
        block = SseMessage()
        data: list[str] = []
        seen_any = False
        while True:
            try:
                line = await self._lines.__anext__()
            except StopAsyncIteration:
                self.closed = True
                raise StreamEnded from None
            if line == "":
                if not seen_any:
                    continue
                block.data = "\n".join(data) if data else None
                if block.id is not None:
                    self.last_event_id = block.id
                return block
            seen_any = True
            if line.startswith(":"):
                block.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                block.id = value
            elif name == "event":
                block.event = value
            elif name == "data":
                data.append(value)
            elif name == "retry" and value.isdigit():
                block.retry = int(value)


@asynccontextmanager
async def open_sse(
    base_url: str,
    path: str,
    *,
    last_event_id: str | int | None = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[SseStream]:
    """Open an SSE stream; the response status and headers are on ``stream.response``."""
    sent = dict(headers or {})
    sent.setdefault("Accept", "text/event-stream")
    if last_event_id is not None:
        sent["Last-Event-ID"] = str(last_event_id)
    timeout = httpx.Timeout(10.0, read=None)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout) as client,
        client.stream("GET", path, params=params, headers=sent) as response,
    ):
        yield SseStream(response)


async def emit(
    tenant: Any, type_: str, specialist_id: Any = None, data: dict[str, Any] | None = None
) -> int:
    """Commit one event from the test process (a real commit, as any route would make)."""
    from carebook.events.outbox import publish
    from carebook.tenancy import tenant_tx

    async with tenant_tx(tenant) as conn:
        return await publish(conn, type_, specialist_id, data)
