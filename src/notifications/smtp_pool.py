"""Kept-alive SMTP connections: a small pool per event loop and server configuration.

Opening a connection (TCP, EHLO, STARTTLS, AUTH) costs several round trips, more than the
message itself; a worker sending a burst of confirmations reuses its connections instead.

- One pool per (event loop, ``SmtpConfig``): an aiosmtplib client belongs to the loop that
  opened it, and Dramatiq's actor threads share the worker's one loop, so they share its
  pool; a changed configuration (another host, port or password) gets a pool of its own.
- At most ``CAREBOOK_SMTP_CONNECTIONS`` (2) connections per pool, each used by one message
  at a time (a semaphore; the others wait for a free connection).
- A connection idle longer than ``CAREBOOK_SMTP_IDLE_SECONDS`` (30) is closed (QUIT) by a
  timer, and never reused after that time, so idle connections never pile up nor hit the
  server's own idle timeout.
- A reused connection that turns out dead (the server dropped it: disconnect, reset, or a 421
  "closing" reply) is replaced by a new one and the message sent once more; a fresh
  connection's errors are the caller's (``SmtpChannel`` maps them to retry/bounce/fail).
  Any error retires the connection rather than guessing at the session's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import time
import weakref
from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib

from notifications.config import SmtpConfig


def _dead(exc: BaseException) -> bool:
    """The session was over before the message: disconnected, reset, or 421 (the server's
    "closing transmission channel", e.g. at its idle timeout)."""
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError):
        return True
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421


def max_connections() -> int:
    return max(1, int(os.environ.get("CAREBOOK_SMTP_CONNECTIONS") or 2))


def idle_seconds() -> float:
    return float(os.environ.get("CAREBOOK_SMTP_IDLE_SECONDS") or 30)


@dataclass
class _Pooled:
    client: aiosmtplib.SMTP
    last_used: float = field(default_factory=time.monotonic)


class SmtpPool:
    """The connections to one SMTP server on one event loop."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.idle: list[_Pooled] = []
        self.slots = asyncio.Semaphore(max_connections())
        self.opened = 0  # connections opened over the pool's life (tests, benchmarks)
        self._reaper: asyncio.TimerHandle | None = None

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.config.security == "none":
            return None
        return ssl.create_default_context(cafile=self.config.ca_file)

    async def _open(self) -> _Pooled:
        cfg = self.config
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            username=cfg.username,
            password=cfg.password,
            use_tls=cfg.security == "tls",
            start_tls=cfg.security == "starttls",
            tls_context=self._tls_context(),
            timeout=cfg.timeout_seconds,
        )
        self.opened += 1
        try:
            await client.connect()
        except BaseException:
            _drop(client)
            raise
        return _Pooled(client)

    def _take_idle(self) -> _Pooled | None:
        now = time.monotonic()
        while self.idle:
            pooled = self.idle.pop()  # the most recently used: the likeliest to be alive
            if now - pooled.last_used < idle_seconds() and pooled.client.is_connected:
                return pooled
            _closing(pooled.client)
        return None

    async def send(self, mail: EmailMessage) -> None:
        """Send ``mail`` over a pooled connection (opened if none is free)."""
        async with self.slots:
            pooled = self._take_idle()
            reused = pooled is not None
            if pooled is None:
                pooled = await self._open()
            try:
                await pooled.client.send_message(mail)
            except BaseException as exc:
                _drop(pooled.client)
                if not (reused and _dead(exc)):
                    raise
                # The server ended a kept session (its idle timeout, a restart): once more on
                # a new connection. Its errors go to the caller.
                pooled = await self._open()
                try:
                    await pooled.client.send_message(mail)
                except BaseException:
                    _drop(pooled.client)
                    raise
            pooled.last_used = time.monotonic()
            self.idle.append(pooled)
            self._schedule_reaper()

    def _schedule_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        self._reaper = asyncio.get_running_loop().call_later(idle_seconds(), self._reap)

    def _reap(self) -> None:
        """Close connections idle for ``idle_seconds``; look again for the younger ones."""
        self._reaper = None
        now = time.monotonic()
        keep = []
        for pooled in self.idle:
            if now - pooled.last_used >= idle_seconds() or not pooled.client.is_connected:
                _closing(pooled.client)
            else:
                keep.append(pooled)
        self.idle = keep
        if keep:
            self._schedule_reaper()

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        idle, self.idle = self.idle, []
        await asyncio.gather(*(_quit(p.client) for p in idle))


def _drop(client: aiosmtplib.SMTP) -> None:
    """Forget a connection whose session state is unknown (no QUIT: just close it)."""
    with contextlib.suppress(Exception):  # a broken connection may fail to close: gone anyway
        client.close()


_quitting: set[asyncio.Task[None]] = set()


def _closing(client: aiosmtplib.SMTP) -> None:
    """QUIT in the background (kept referenced until done)."""
    task = asyncio.ensure_future(_quit(client))
    _quitting.add(task)
    task.add_done_callback(_quitting.discard)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        if client.is_connected:
            await client.quit(timeout=5)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        _drop(client)


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[SmtpConfig, SmtpPool]] = (
    weakref.WeakKeyDictionary()
)


def pool_for(config: SmtpConfig) -> SmtpPool:
    """This event loop's pool for ``config`` (created on first use)."""
    per_loop = _pools.setdefault(asyncio.get_running_loop(), {})
    pool = per_loop.get(config)
    if pool is None:
        pool = per_loop[config] = SmtpPool(config)
    return pool


async def close_all() -> None:
    """QUIT every idle connection of this event loop (worker shutdown, tests)."""
    per_loop = _pools.pop(asyncio.get_running_loop(), {})
    await asyncio.gather(*(pool.close() for pool in per_loop.values()))
