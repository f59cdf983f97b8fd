"""The hub writes straight to idle streams, and hands a stream whose socket is full back to
its own loop without losing, repeating or reordering an event (issue 18, item 5)."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from carebook.events.outbox import SLOT_HELD, publish
from carebook.events.subscriber import RESYNC
from carebook.tenancy import tenant_tx
from tests.conftest import LiveServer, start_live_server, stop_live_server
from tests.factories import add_calendar, add_specialist

SLOT = {"start": "2030-01-07T09:00:00+00:00", "end": "2030-01-07T09:30:00+00:00"}
QUEUE = 8


@pytest.fixture(scope="module")
def small_queue_server(migrated: None) -> Iterator[LiveServer]:
    """A server of this module only (its write counters are ours), with short queues."""
    server = start_live_server("sse-direct", {"CAREBOOK_SSE_QUEUE": str(QUEUE)})
    yield server
    stop_live_server(server)


async def writes(server: LiveServer) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        stats = (await http.get("/health/live")).json()
    return {"direct": stats["direct_writes"], "queued": stats["queued_writes"]}


async def emit_many(tenant: Any, specialist: Any, count: int) -> list[int]:
    """``count`` events committed together (one transaction, one NOTIFY burst)."""
    async with tenant_tx(tenant) as conn:
        return [await publish(conn, SLOT_HELD, specialist, SLOT) for _ in range(count)]


class RawStream:
    """An SSE stream on a plain socket with a tiny receive buffer, read only when asked:
    while it is not read, the server's socket and then its transport buffer fill up."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.raw = b""  # chunked body bytes not yet decoded
        self.body = b""  # decoded SSE text not yet split into blocks

    @classmethod
    async def open(cls, url: str, path: str) -> RawStream:
        parts = urlsplit(url)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (parts.hostname, parts.port))
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n"
        )
        await loop.sock_sendall(sock, request.encode())
        stream = cls(sock)
        head = await stream._until(lambda: b"\r\n\r\n" in stream.raw)
        assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
        return stream

    async def _until(self, done: Any, timeout: float = 10.0) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            assert left > 0, "stream stalled"
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), left)
            assert data, "server closed the stream"
            self.raw += data
        if self.body == b"" and b"\r\n\r\n" in self.raw and self.raw.startswith(b"HTTP/"):
            head, self.raw = self.raw.split(b"\r\n\r\n", 1)
            return head
        return b""

    def _decode(self) -> None:
        while (m := re.match(rb"([0-9a-f]+)\r\n", self.raw)) is not None:
            size, start = int(m.group(1), 16), m.end()
            if len(self.raw) < start + size + 2:
                return
            self.body += self.raw[start : start + size]
            self.raw = self.raw[start + size + 2 :]

    async def blocks_until(self, last_id: int, timeout: float = 15.0) -> list[tuple[str, int]]:
        """(event type, id) of every event block up to the one with ``last_id`` (0: up to
        any first block, e.g. the opening ``retry:`` block)."""
        found: list[tuple[str, int]] = []
        seen = 0

        def done() -> bool:
            self._decode()
            nonlocal seen
            while b"\n\n" in self.body:
                block, self.body = self.body.split(b"\n\n", 1)
                seen += 1
                fields = dict(
                    line.split(": ", 1) for line in block.decode().splitlines() if ": " in line
                )
                if "id" in fields and "event" in fields:
                    found.append((fields["event"], int(fields["id"])))
            if last_id == 0:
                return seen > 0
            return bool(found) and found[-1][1] >= last_id

        await self._until(done, timeout)
        return found

    def close(self) -> None:
        self.sock.close()


async def calendar_stream(clinic: Any) -> tuple[Any, str]:
    """A specialist on a new calendar, and the path of that calendar's event stream."""
    sid = await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [sid]))["id"]
    return sid, f"{clinic.public}/calendars/{cal}/events"


async def test_idle_streams_are_written_directly_by_the_hub(
    clinic: Any, small_queue_server: LiveServer
) -> None:
    sid, path = await calendar_stream(clinic)
    stream = await RawStream.open(small_queue_server.url, path)
    try:
        await stream.blocks_until(0)  # the opening block has no event; nothing to wait for
        before = await writes(small_queue_server)
        sent = []
        for _ in range(5):  # one at a time: the stream is idle for each
            sent += await emit_many(clinic.tenant, sid, 1)
            assert (await stream.blocks_until(sent[-1]))[-1] == (SLOT_HELD, sent[-1])
        after = await writes(small_queue_server)
        assert after["direct"] - before["direct"] == 5
        assert after["queued"] == before["queued"]
    finally:
        stream.close()


async def test_a_full_socket_hands_the_stream_back_to_its_loop_in_order(
    clinic: Any, small_queue_server: LiveServer
) -> None:
    sid, path = await calendar_stream(clinic)
    slow = await RawStream.open(small_queue_server.url, path)
    try:
        await slow.blocks_until(0)
        before = await writes(small_queue_server)
        sent: list[int] = []
        # Not reading: the kernel buffers fill, then the transport's, until the server stops
        # writing directly and queues (and the short queue overflows to a resync).
        while (await writes(small_queue_server))["queued"] == before["queued"]:
            assert len(sent) < 40_000, "the server never stopped writing directly"
            sent += await emit_many(clinic.tenant, sid, 500)
        sent += await emit_many(clinic.tenant, sid, 3 * QUEUE)
        got = await slow.blocks_until(sent[-1], timeout=30)
        ids = [i for _, i in got]
        assert ids == sorted(set(ids)), "repeated or out of order"
        assert set(ids) <= set(sent)
        assert got[-1][1] == sent[-1]
        # Everything up to the point the socket filled arrived; the rest was trimmed to a
        # resync (whose id is the newest event at that time), and the live events after it.
        resyncs = [i for kind, i in got if kind == RESYNC]
        assert resyncs, "the short queue must have overflowed"
        first_resync = got.index((RESYNC, resyncs[0]))
        direct_part = [i for _, i in got[:first_resync]]
        assert direct_part == sent[: len(direct_part)]
        # Once it is read again, the stream goes idle and is written directly again (as soon
        # as its loop has drained what it queued: a few events later at most).
        for _ in range(50):
            before = await writes(small_queue_server)
            last = await emit_many(clinic.tenant, sid, 1)
            assert (await slow.blocks_until(last[0]))[-1] == (SLOT_HELD, last[0])
            if (await writes(small_queue_server))["direct"] == before["direct"] + 1:
                break
        else:
            raise AssertionError("the stream never went back to direct writes")
    finally:
        slow.close()


async def live_subscribers(server: LiveServer) -> int:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        return int((await http.get("/health/live")).json()["subscribers"])


async def test_a_stream_whose_connection_died_under_a_pipelined_request_is_freed(
    clinic: Any, small_queue_server: LiveServer
) -> None:
    """uvicorn marks only the connection's *current* request as disconnected: with a request
    pipelined behind the stream, the stream's own cycle never learns that its connection is
    gone, and writing to the closed transport raises. That must end this stream (as ASGI
    ``send`` did), not the clinic's feed or the process's heartbeat."""
    sid, path = await calendar_stream(clinic)
    for _ in range(100):  # streams of earlier tests gone
        if await live_subscribers(small_queue_server) == 0:
            break
        await asyncio.sleep(0.1)
    healthy = await RawStream.open(small_queue_server.url, path)
    dead = await RawStream.open(small_queue_server.url, path)
    try:
        await healthy.blocks_until(0)
        await dead.blocks_until(0)
        assert await live_subscribers(small_queue_server) == 2
        dead.sock.send(b"GET /health/live HTTP/1.1\r\nHost: carebook\r\n\r\n")
        await asyncio.sleep(0.3)  # parsed and queued behind the stream
        dead.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        dead.close()  # a reset: the server learns of it on its next write
        sent: list[int] = []
        for _ in range(5):
            sent += await emit_many(clinic.tenant, sid, 1)
            assert (await healthy.blocks_until(sent[-1], timeout=10))[-1] == (SLOT_HELD, sent[-1])
        for _ in range(100):
            if await live_subscribers(small_queue_server) == 1:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the dead stream was never freed")
        assert "live updates: feed" not in small_queue_server.log.read_text()
    finally:
        healthy.close()
        dead.close()
