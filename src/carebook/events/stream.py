"""The SSE response: subscribe, replay, follow — one coroutine writing straight to ASGI.

Litestar's ``Stream`` pulls chunks through a chain of async generators (the route's, the
framework's ``async for``) and runs each stream in an anyio task group. With a thousand
streams per event, that per-delivery machinery was a good part of the fan-out's cost, so an
event stream here is one plain loop per stream: wake on the subscriber's queue, take
everything queued (frames are encoded once per event, shared by every stream), and hand it
to ASGI ``send`` as one chunk. A disconnect is noticed by one waiter on ``receive``, which
closes the subscriber; the loop then ends as it does on shutdown.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from litestar.response import Stream
from litestar.response.streaming import ASGIStreamingResponse
from litestar.utils.helpers import get_enum_string_value

from carebook.events.hub import Hub, HubClosed
from carebook.events.replay import missed_events
from carebook.events.subscriber import PING, RESYNC, RETRY_MS, DirectWriter, Event, Subscriber

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.datastructures import Cookie
    from litestar.enums import MediaType
    from litestar.response.base import ASGIResponse
    from litestar.types import Receive, Scope, Send, TypeEncodersMap

_END = {"type": "http.response.body", "body": b"", "more_body": False}
# The server's own ``send`` for this request, before any wrapper (``CarebookApp``): the
# stream looks through it for a connection it can write to directly (``direct_writer``).
SERVER_SEND = "carebook.server_send"


class EventPump:
    """One stream's work: subscribe first, then replay from the table, then follow the queue.

    ``sent`` is the id the client is known to have: live events at or below it are skipped,
    so an event that is both replayed and queued is sent once.
    """

    __slots__ = ("calendar_id", "everything", "hub", "last_seen", "schema", "stopped", "sub")

    def __init__(
        self, hub: Hub, schema: str, calendar_id: UUID, last_seen: int | None, everything: bool
    ) -> None:
        self.hub, self.schema, self.calendar_id = hub, schema, calendar_id
        self.last_seen, self.everything = last_seen, everything
        self.sub: Subscriber | None = None
        self.stopped = False

    def stop(self) -> None:
        """The client went away: end the stream after what it is writing now."""
        self.stopped = True
        if self.sub is not None:
            self.sub.close()

    async def run(self, send: Send, direct: DirectWriter | None = None) -> None:
        try:
            sub = self.sub = await self.hub.subscribe(
                self.schema, self.calendar_id, everything=self.everything
            )
        except HubClosed:
            return
        try:
            if self.stopped:
                return
            await self._send_events(send, sub, direct)
        finally:
            sub.direct = None
            self.hub.unsubscribe(sub)

    async def _send_events(self, send: Send, sub: Subscriber, direct: DirectWriter | None) -> None:
        opening = f"retry: {RETRY_MS}\n"
        if self.last_seen is None:
            opening += f"id: {sub.start_id}\n"  # a reconnect then replays from here
        chunks = [(opening + "\n").encode()]
        sub.sent = sub.start_id
        if self.last_seen is not None:
            replay = await missed_events(sub, self.last_seen)
            chunks += [event.frame for event in replay]
            if not (replay and replay[0].type == RESYNC):
                sub.sent = max(sub.sent, self.last_seen)
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
        await _follow(send, sub, direct)


async def _follow(send: Send, sub: Subscriber, direct: DirectWriter | None) -> None:
    """Live frames and heartbeats until the subscriber is closed (shutdown or disconnect).

    While the stream is idle the hub writes to it directly (``Subscriber.direct``); this loop
    wakes only for what was queued: whatever is queued then goes out as one chunk, one write
    per wake-up however many events arrived together, through ASGI ``send`` (which waits
    for a full socket to drain).
    """
    queue = sub.queue
    while True:
        if direct is not None and queue.empty():
            sub.direct = direct
        item = await queue.get()
        sub.direct = None  # already so, unless the item is the first after a direct write
        frames: list[bytes] = []
        while True:
            if isinstance(item, Event):
                if item.id > sub.sent or item.type == RESYNC:
                    sub.sent = max(sub.sent, item.id)
                    frames.append(item.frame)
            elif item is PING:
                if queue.empty():
                    ping, sub.sent = sub.ping_frame()
                    frames.append(ping)
                else:
                    frames.append(b": ping\n\n")
            else:  # CLOSE: the process is going down, or the client went away
                if frames:
                    await send({"type": "http.response.body", "body": b"".join(frames),
                                "more_body": True})  # fmt: skip
                return
            if queue.empty():
                break
            item = queue.get_nowait()
        if frames:
            body = frames[0] if len(frames) == 1 else b"".join(frames)
            await send({"type": "http.response.body", "body": body, "more_body": True})


def direct_writer(server_send: Any) -> DirectWriter | None:
    """A synchronous writer to the client's connection, below ASGI, when the server is
    uvicorn's httptools protocol with a chunked response (else None: ASGI ``send`` only).

    ASGI's ``send`` is a coroutine, so a write through it needs the stream's task to run;
    uvicorn's ``send`` for a body chunk is only a check of its flow control and one
    ``transport.write`` of the chunk. This does the same, synchronously, from the hub's
    loop, and refuses (False) whenever ``send`` would have waited, dropped or failed the
    write: the client gone, the response finished, the transport closing, or the socket
    buffer above its high-water mark.
    """
    try:
        from uvicorn.protocols.http.httptools_impl import RequestResponseCycle
    except ImportError:  # httptools not installed: uvicorn uses h11
        return None
    cycle = getattr(server_send, "__self__", None)
    if not isinstance(cycle, RequestResponseCycle) or not cycle.chunked_encoding:
        return None
    transport, flow = cycle.transport, cycle.flow

    def write(chunk: bytes) -> bool:
        # uvicorn marks only the connection's current request as disconnected: behind a
        # pipelined request, this cycle never learns that its connection is gone, and a
        # write to the closed transport raises. Refused then, the delivery is queued and the
        # stream's own ``send`` meets the error and ends the stream (not the hub's loop).
        if (
            cycle.disconnected
            or cycle.response_complete
            or flow.write_paused
            or transport.is_closing()
        ):
            return False
        try:
            transport.write(chunk)
        except Exception:  # e.g. RuntimeError: the handler is closed (nothing was written)
            return False
        return True

    return write


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class _EventStreamResponse(ASGIStreamingResponse):
    """The ASGI side: the pump's loop and one disconnect waiter, no task group."""

    __slots__ = ("server_send",)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Direct writes skip every ASGI ``send`` wrapper: never under one that rewrites
        # bodies (response compression), which would get raw chunks among its output.
        app = scope.get("litestar_app")
        rewrites = getattr(app, "compression_config", None) is not None
        self.server_send = None if rewrites else scope.get(SERVER_SEND)  # type: ignore[misc]
        await super().__call__(scope, receive, send)

    async def send_body(self, send: Send, receive: Receive) -> None:
        pump: EventPump = self.iterator  # type: ignore[assignment]
        watcher = asyncio.ensure_future(_until_disconnect(receive))
        watcher.add_done_callback(lambda _w: pump.stop())
        try:
            await pump.run(send, direct_writer(getattr(self, "server_send", None)))
        finally:
            watcher.cancel()
        await send(_END)  # type: ignore[arg-type]


class EventStream(Stream):
    """``text/event-stream`` response of one ``EventPump`` (OpenAPI sees a ``Stream``)."""

    def __init__(self, pump: EventPump, *, headers: dict[str, str]) -> None:
        super().__init__((), media_type="text/event-stream", headers=headers)
        self.pump = pump

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        response = _EventStreamResponse(
            background=self.background or background,
            content_length=0,
            cookies=self.cookies if cookies is None else itertools.chain(self.cookies, cookies),
            encoded_headers=encoded_headers,
            encoding=self.encoding,
            headers={**headers, **self.headers} if headers is not None else self.headers,
            is_head_response=is_head_response,
            iterator=(),
            media_type=get_enum_string_value(self.media_type or media_type or "text/plain"),
            status_code=self.status_code or status_code,
        )
        response.iterator = self.pump  # type: ignore[assignment]
        return response
