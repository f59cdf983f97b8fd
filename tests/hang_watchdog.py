"""A test that hangs fails with the stacks of what it waits on, instead of a CI timeout.

Most tests are coroutines on one session event loop, where a thread dump (faulthandler,
pytest-timeout) only shows the loop's ``select()``. After ``CAREBOOK_TEST_HANG_SECONDS``
(default 240) this watchdog writes every asyncio task's stack and every thread's stack to
``test-artifacts/hangs/`` and cancels the test's own tasks, so the test fails and the run goes
on; the controller prints the reports at the end of the run. The time counts from the item's
setup to its teardown; the tasks cancelled are those running its test function or one of its
fixtures. pytest-timeout (``timeout`` in pyproject.toml, later) ends the worker of a test
that is not a coroutine, blocks the loop, or does not end when cancelled.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = str(ROOT / "tests")
HANGS = Path(os.environ.get("CAREBOOK_TEST_HANGS_DIR") or ROOT / "test-artifacts" / "hangs")
HANG_SECONDS = float(os.environ.get("CAREBOOK_TEST_HANG_SECONDS", "240"))

_loop: asyncio.AbstractEventLoop | None = None
_current: pytest.Item | None = None  # the item whose protocol runs now


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


def _frame(obj: Any) -> FrameType | None:
    for attr in ("cr_frame", "gi_frame", "ag_frame"):
        if (frame := getattr(obj, attr, None)) is not None:
            return frame
    return None


def _awaited(obj: Any) -> Any:
    """What ``obj`` (a coroutine, generator or async generator) waits on, if anything."""
    for attr in ("cr_await", "gi_yieldfrom", "ag_await"):
        if (inner := getattr(obj, attr, None)) is not None:
            return inner
    # `async with` over an asynccontextmanager awaits an asend/athrow wrapper: the async
    # generator it drives is its only route down to the line that waits.
    if type(obj).__name__ in ("async_generator_asend", "async_generator_athrow"):
        return next((ref for ref in gc.get_referents(obj) if inspect.isasyncgen(ref)), None)
    return None


def _suspended_frames(coro: Any) -> tuple[list[FrameType], str]:
    """The frames a task is suspended in, outermost first, and what the innermost awaits
    when that is not a frame (a future, usually)."""
    frames: list[FrameType] = []
    obj = coro
    for _ in range(200):
        if obj is None:
            break
        frame = _frame(obj)
        if frame is not None:
            frames.append(frame)
        inner = _awaited(obj)
        if inner is None:
            return frames, "" if frame is not None else repr(obj)[:200]
        obj = inner
    return frames, ""


def _tasks_and_cancel(loop: asyncio.AbstractEventLoop, item: pytest.Item) -> str:
    """Runs on the loop: every task's await chain; cancels the tasks running the item's test
    function or one of its fixtures (setup or teardown)."""
    test = (str(item.path), getattr(item, "originalname", item.name))
    fixtures = _fixture_codes(item)
    parts = []
    for task in asyncio.all_tasks(loop):
        frames, awaiting = _suspended_frames(task.get_coro())
        codes = [frame.f_code for frame in frames]
        ours = any((c.co_filename, c.co_name) == test or c in fixtures for c in codes)
        parts.append(f"--- task {task.get_name()}{' (cancelled)' if ours else ''}\n")
        parts.extend(
            f'  File "{f.f_code.co_filename}", line {f.f_lineno}, in {f.f_code.co_name}\n'
            for f in frames
        )
        waiter = getattr(task, "_fut_waiter", None)  # the future the task is parked on
        if waiter is not None or awaiting:
            parts.append(f"  awaiting {repr(waiter)[:200] if waiter is not None else awaiting}\n")
        if ours:
            task.cancel(f"hung for {HANG_SECONDS:.0f} s (tests/hang_watchdog.py)")
    return "".join(parts)


def _fixture_codes(item: pytest.Item) -> set[CodeType]:
    info = getattr(item, "_fixtureinfo", None)
    codes = set()
    for defs in info.name2fixturedefs.values() if info is not None else ():
        for fixturedef in defs:
            code = getattr(inspect.unwrap(fixturedef.func), "__code__", None)
            if code is not None:
                codes.add(code)
    return codes


def _on_hang(item: pytest.Item) -> None:
    if _current is not item:
        return  # it finished while the timer fired
    HANGS.mkdir(parents=True, exist_ok=True)
    path = HANGS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid) + ".txt")
    head = f"{item.nodeid} still running after {HANG_SECONDS:.0f} s\n"
    path.write_text(head + "\n== threads\n" + _threads())
    loop = _loop
    if loop is None or loop.is_closed():
        return
    done = threading.Event()

    def on_loop() -> None:
        try:
            with path.open("a") as out:
                if _current is item:
                    out.write("\n== asyncio tasks\n" + _tasks_and_cancel(loop, item))
                else:
                    out.write("\n== it finished before the loop could report its tasks\n")
        finally:
            done.set()

    loop.call_soon_threadsafe(on_loop)
    if not done.wait(10):
        with path.open("a") as out:
            out.write("\n== the event loop did not run a callback within 10 s (blocked)\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[Any]:
    global _current
    _current = item
    timer = threading.Timer(HANG_SECONDS, _on_hang, args=(item,))
    timer.daemon = True
    timer.start()
    try:
        return (yield)
    finally:
        timer.cancel()
        _current = None


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
