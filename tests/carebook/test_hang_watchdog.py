"""The suite's hang watchdog: a hung test fails with what it waited on; the run goes on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.hang_watchdog import ROOT

HUNG = """
import asyncio
import contextlib

import pytest


@contextlib.asynccontextmanager
async def held():
    await asyncio.Event().wait()
    yield


async def test_waits_forever():
    async with held():
        pass


@pytest.fixture
async def stuck():
    await asyncio.Event().wait()
    yield


async def test_with_a_hung_fixture(stuck):
    pass


async def test_after_them():
    assert True
"""


def test_a_hung_test_or_fixture_fails_with_the_line_it_waits_on_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_hung.py").write_text(HUNG)
    hangs = tmp_path / "hangs"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CAREBOOK_TEST_HANG_SECONDS": "1",
        "CAREBOOK_TEST_HANGS_DIR": str(hangs),
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.hang_watchdog", "-p", "no:cacheprovider",
         "-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=session",
         "-o", "asyncio_default_test_loop_scope=session", "-o", "timeout=60",
         "--rootdir", str(tmp_path), "-q", str(tmp_path / "test_hung.py")],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "1 failed, 1 passed, 1 error" in out, out
    assert "hung test: test_hung.py_test_waits_forever" in out, out
    assert "hung test: test_hung.py_test_with_a_hung_fixture" in out, out
    # through `async with` down to the line that waits, and what it waits on
    assert 'test_hung.py", line 10, in held' in out, out
    assert 'test_hung.py", line 21, in stuck' in out, out
    assert "awaiting <Future pending" in out, out
    assert out.count("(cancelled)") == 2, out
