"""A TCP proxy the tests can cut: a real outage of PostgreSQL or Redis as the app sees it
(connections reset, new ones refused) without stopping the machine's shared servers."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit, urlunsplit


class TcpProxy:
    """Listens on a loopback port; forwards to ``(host, port)`` or to a Unix socket path."""

    def __init__(self, host: str, port: int = 0, *, unix_path: str | None = None) -> None:
        self.upstream = (host, port)
        self.unix_path = unix_path
        self.refusing = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def refuse(self) -> None:
        """New connections are closed at once; open ones keep working."""
        self.refusing = True

    def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        self.refusing = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.refusing = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            if self.unix_path:
                up_reader, up_writer = await asyncio.open_unix_connection(self.unix_path)
            else:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def proxy_for_url(url: str) -> TcpProxy:
    """A proxy to the server of a ``postgresql://`` or ``redis://`` URL (TCP or Unix socket)."""
    parts = urlsplit(url)
    if parts.hostname:
        default = 6379 if parts.scheme.startswith("redis") else 5432
        return TcpProxy(parts.hostname, parts.port or default)
    socket_dir = parse_qs(parts.query)["host"][0]
    return TcpProxy("", unix_path=f"{socket_dir}/.s.PGSQL.{parts.port or 5432}")


def via_proxy(url: str, proxy: TcpProxy) -> str:
    """``url`` with its server replaced by the proxy's loopback port (same user, database)."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    if parts.password:
        user = f"{parts.username}:{parts.password}@"
    query = "&".join(f"{k}={v[0]}" for k, v in parse_qs(parts.query).items() if k != "host")
    return urlunsplit((parts.scheme, f"{user}127.0.0.1:{proxy.port}", parts.path, query, ""))
