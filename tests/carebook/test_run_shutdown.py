"""`carebook run` on the embedded default stops the PostgreSQL and Redis it started (issue 17.6).

Whatever stops it — Ctrl-C (SIGINT), `docker stop`/systemd/`kill` (SIGTERM) — no process of
its data folder may remain; a run killed outright (SIGKILL) leaves its servers behind, and
the next run reuses them and still stops them when it ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ROOT, _free_port

pytestmark = pytest.mark.slow


def _processes_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    # Redis rewrites its process title; it runs in its --dir, PostgreSQL in its -D.
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        cwd = proc.info["cwd"] or ""
        if proc.pid != os.getpid() and (str(data_dir) in cmdline or cwd.startswith(str(data_dir))):
            found.append(proc)
    return found


def _servers(data_dir: Path) -> set[int]:
    """The postmaster and redis-server pids (not PostgreSQL's short-lived backends)."""
    pids = set()
    for p in _processes_of(data_dir):
        try:
            parent = p.parent()
            if p.name() == "redis-server" or (
                p.name() == "postgres" and (parent is None or parent.name() != "postgres")
            ):
                pids.add(p.pid)
        except psutil.Error:
            continue
    return pids


def _start(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    drop = ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "CAREBOOK_BASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["CAREBOOK_DATA_DIR"] = str(data_dir)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "carebook", "run", "--port", str(port), "--no-demo"],
        env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"carebook run did not start:\n{log.read_text()[-4000:]}")
        time.sleep(0.25)


def _none_left(data_dir: Path, log: Path) -> None:
    deadline = time.monotonic() + 30
    while (left := _processes_of(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    names = [(p.pid, " ".join(p.cmdline())[:120]) for p in left if p.is_running()]
    assert not names, f"left running: {names}\n{log.read_text()[-3000:]}"


def test_run_stops_its_embedded_servers_on_sigint_and_sigterm() -> None:
    # Not pytest's tmp_path: any pytest starting meanwhile resets /tmp/pytest-of-<user> to
    # 0700, and the embedded PostgreSQL runs as another user when we are root.
    base = Path(tempfile.mkdtemp(prefix="carebook-run-"))
    base.chmod(0o755)
    data_dir = base / "data"
    log = base / "run.log"
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            proc, _ = _start(data_dir, log)
            assert _processes_of(data_dir), "no embedded server found to begin with"
            # The app's data is durable (only the test suite's own cluster runs without).
            auto_conf = (data_dir / "pgdata" / "postgresql.auto.conf").read_text()
            assert "fsync = 'on'" in auto_conf and "synchronous_commit = 'on'" in auto_conf
            proc.send_signal(sig)
            assert proc.wait(60) in (0, -sig, 128 + sig, 1), log.read_text()[-3000:]
            _none_left(data_dir, log)
        # A run killed outright leaves its servers; the next one reuses and then stops them.
        proc, _ = _start(data_dir, log)
        servers = _servers(data_dir)
        assert len(servers) == 2, servers
        proc.kill()
        proc.wait(30)
        assert _servers(data_dir) == servers  # orphans, for now
        proc, _ = _start(data_dir, log)
        assert _servers(data_dir) == servers, "leftovers not reused"
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        _none_left(data_dir, log)
    finally:
        for p in _processes_of(data_dir):
            if p.is_running():
                p.kill()
        shutil.rmtree(base, ignore_errors=True)
