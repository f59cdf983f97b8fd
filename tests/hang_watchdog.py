"""A test that hangs fails with the stacks of what it waits on, instead of a CI timeout.

Most tests are coroutines on one session event loop, where a thread dump (faulthandler,
pytest-timeout) only shows the loop's ``select()``. After ``CAREBOOK_TEST_HANG_SECONDS``
(default 240) this watchdog writes every asyncio task's stack and every thread's stack to
``test-artifacts/hangs/`` and cancels the test's own tasks, so the test fails and the run goes
on; the controller prints the reports at the end of the run. pytest-timeout (``timeout`` in
pyproject.toml, later) is the backstop for a test that is not a coroutine or blocks the loop.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = str(ROOT / "tests")
HANGS = Path(os.environ.get("CAREBOOK_TEST_HANGS_DIR") or ROOT / "test-artifacts" / "hangs")
HANG_SECONDS = float(os.environ.get("CAREBOOK_TEST_HANG_SECONDS", "240"))

_loop: asyncio.AbstractEventLoop | None = None


@pytest.fixture(scope="session", autouse=True)
async def _watched_loop() -> None:
    global _loop
    _loop = asyncio.get_running_loop()


def _threads() -> str:
    names = {t.ident: t.name for t in threading.enumerate()}
    parts = []
    for ident, frame in sys._current_frames().items():
        parts.append(f"--- thread {names.get(ident, ident)}\n")
        parts.extend(traceback.format_stack(frame))
    return "".join(parts)


def _await_chain(coro: Any) -> list[tuple[str, int, str]]:
    """(file, line, function) of each coroutine a task is suspended in, outermost first."""
    chain = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        chain.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return chain


def _tasks_and_cancel(loop: asyncio.AbstractEventLoop, test: tuple[str, str]) -> str:
    """Runs on the loop: every task's await chain; cancels the tasks running the test."""
    parts = []
    for task in asyncio.all_tasks(loop):
        chain = _await_chain(task.get_coro())
        ours = any((path, name) == test for path, _, name in chain)
        parts.append(f"--- task {task.get_name()}{' (cancelled)' if ours else ''}\n")
        parts.extend(f'  File "{path}", line {line}, in {name}\n' for path, line, name in chain)
        if ours:
            task.cancel(f"hung for {HANG_SECONDS:.0f} s (tests/hang_watchdog.py)")
    return "".join(parts)


def _on_hang(nodeid: str, test: tuple[str, str]) -> None:
    HANGS.mkdir(parents=True, exist_ok=True)
    path = HANGS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid) + ".txt")
    head = f"{nodeid} still running after {HANG_SECONDS:.0f} s\n"
    path.write_text(head + "\n== threads\n" + _threads())
    loop = _loop
    if loop is None or loop.is_closed():
        return
    done = threading.Event()

    def on_loop() -> None:
        try:
            with path.open("a") as out:
                out.write("\n== asyncio tasks\n" + _tasks_and_cancel(loop, test))
        finally:
            done.set()

    loop.call_soon_threadsafe(on_loop)
    if not done.wait(10):
        with path.open("a") as out:
            out.write("\n== the event loop did not run a callback within 10 s (blocked)\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[Any]:
    timer = threading.Timer(
        HANG_SECONDS,
        _on_hang,
        args=(item.nodeid, (str(item.path), getattr(item, "originalname", item.name))),
    )
    timer.daemon = True
    timer.start()
    try:
        return (yield)
    finally:
        timer.cancel()


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    if _is_controller(session.config) and HANGS.exists():
        for old in HANGS.glob("*.txt"):
            old.unlink()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not _is_controller(config) or not HANGS.exists():
        return
    for report in sorted(HANGS.glob("*.txt")):
        terminalreporter.section(f"hung test: {report.stem}", sep="!")
        terminalreporter.write(report.read_text())
