"""Ending open SSE streams as soon as the server is asked to stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Any

_previous_handlers: dict[int, Any] = {}


def chain_exit_signals(drain: Callable[[], None]) -> None:
    """Call ``drain`` on SIGTERM/SIGINT, then the handler that was there before.

    Uvicorn waits for open responses to finish *before* it runs the shutdown hooks, and an
    SSE response never finishes by itself, so the hub drains on the signal and then hands
    it on to the server's own handler. Call from the event loop's (main) thread.
    """
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(drain)
            previous(signum, frame)

        try:
            signal.signal(sig, handler)
        except ValueError:  # not the main thread: the server has to stop streams itself
            return
        _previous_handlers[sig] = previous


def restore_signals() -> None:
    """Put the handlers back that ``chain_exit_signals`` wrapped."""
    for sig, previous in _previous_handlers.items():
        with contextlib.suppress(ValueError):
            signal.signal(sig, previous)
    _previous_handlers.clear()
