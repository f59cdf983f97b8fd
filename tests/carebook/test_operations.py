"""Operations: /health, /ready through real outages, /metrics, request ids, JSON logs without
patient data (issue 16). Outages are real: the app process reaches PostgreSQL (pool and
LISTEN connection) and Redis through TCP proxies that the test cuts and restores."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import DATABASE_URL, REDIS_URL, ROOT, WORKER, Clinic, _free_port
from tests.factories import add_calendar, add_specialist
from tests.tcp_proxy import proxy_for_url, via_proxy


@asynccontextmanager
async def app_process(
    name: str, env: dict[str, str], *args: str
) -> AsyncIterator[tuple[httpx.AsyncClient, subprocess.Popen[bytes], Path]]:
    """A uvicorn process of the app, started without blocking this event loop (the proxies
    it connects through run in this loop)."""
    port = _free_port()
    log = ROOT / "test-artifacts" / f"ops-{WORKER}-{os.getpid()}-{name}.log"
    log.parent.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "carebook.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", *args],
        env={**os.environ, **env, "CAREBOOK_BASE_URL": f"http://127.0.0.1:{port}"},
        stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 40
            while True:
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"app did not start:\n{log.read_text()[-3000:]}")
                await asyncio.sleep(0.1)
            yield http, proc, log
    finally:
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def ready_until(
    http: httpx.AsyncClient, want: Callable[[int, dict[str, Any]], bool], seconds: float = 20
) -> dict[str, Any]:
    """Poll /ready until ``want(status, body)``; fail with the last answer after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        r = await http.get("/ready")
        body: dict[str, Any] = r.json()
        if want(r.status_code, body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"/ready never matched; last: {r.status_code} {body}")
        await asyncio.sleep(0.1)


def all_ready(status: int, body: dict[str, Any]) -> bool:
    return status == 200 and all(c["ok"] for c in body["checks"].values())


def only_down(*names: str) -> Callable[[int, dict[str, Any]], bool]:
    def check(status: int, body: dict[str, Any]) -> bool:
        down = {k for k, c in body["checks"].items() if not c["ok"]}
        return status == 503 and body["status"] == "not_ready" and set(names) <= down

    return check


async def test_ready_fails_when_redis_listen_or_postgres_is_down_and_recovers(
    migrated: None,
) -> None:
    db = await proxy_for_url(DATABASE_URL).start()
    direct = os.environ.get("CAREBOOK_DIRECT_DATABASE_URL") or DATABASE_URL
    listen = await proxy_for_url(direct).start()
    redis = await proxy_for_url(REDIS_URL).start()
    env = {
        "DATABASE_URL": via_proxy(DATABASE_URL, db),
        "CAREBOOK_DIRECT_DATABASE_URL": via_proxy(direct, listen),
        "REDIS_URL": via_proxy(REDIS_URL, redis),
    }
    try:
        async with app_process("ready", env) as (http, proc, _log):
            await ready_until(http, all_ready)

            redis.cut()
            body = await ready_until(http, only_down("redis"))
            assert body["checks"]["database"]["ok"] and body["checks"]["events_listener"]["ok"]
            assert (await http.get("/health")).status_code == 200
            redis.restore()
            await ready_until(http, all_ready)

            # The LISTEN backend is terminated and cannot come back until the proxy lets it.
            listen.refuse()
            conn = await asyncpg.connect(direct)
            try:
                killed = await conn.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = $1",
                    f"carebook-listen-{proc.pid}",
                )
            finally:
                await conn.close()
            assert killed == 1
            body = await ready_until(http, only_down("events_listener"))
            assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
            listen.restore()
            await ready_until(http, all_ready)

            db.cut()
            await ready_until(http, only_down("database"))
            assert (await http.get("/health")).status_code == 200  # liveness is not readiness
            db.restore()
            await ready_until(http, all_ready)
    finally:
        for proxy in (db, listen, redis):
            await proxy.close()


async def test_ready_names_clinic_schemas_behind_on_migrations(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carebook import health

    monkeypatch.setattr(health, "_migrations_ok_until", 0.0)
    assert await health._migrations() == "ok"
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        row = await conn.fetchrow(
            "DELETE FROM public.tenant_schema_migrations WHERE schema_name = $1 AND"
            " migration_id = (SELECT min(migration_id) FROM public.tenant_schema_migrations"
            " WHERE schema_name = $1) RETURNING schema_name, migration_id, applied_at",
            clinic.tenant.schema,
        )
        try:
            monkeypatch.setattr(health, "_migrations_ok_until", 0.0)
            with pytest.raises(RuntimeError, match=r"^1 clinic schemas are behind"):
                await health._migrations()
        finally:  # a failure here must not leave the clinic behind for the next tests
            await conn.execute(
                "INSERT INTO public.tenant_schema_migrations VALUES ($1, $2, $3)", *row.values()
            )
    finally:
        await conn.close()
    assert await health._migrations() == "ok"


async def test_metrics_by_route_template_and_request_ids(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    r = await client.get(f"/c/{clinic.slug}/", headers={"X-Request-ID": "req-abcdef12"})
    assert r.headers["x-request-id"] == "req-abcdef12"
    r = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{16}", r.headers["x-request-id"])
    await client.get(f"/api/v1/clinics/{clinic.slug}/public/catalog")

    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert re.search(r'carebook_http_request_duration_seconds_count\{method="GET",'
                     r'route="/c/\{clinic\}",status="200"\} [1-9]', text), text[:3000]  # fmt: skip
    assert 'route="/api/v1/clinics/{clinic}/public/catalog"' in text
    assert clinic.slug not in text  # templates, never raw paths
    for name in ("carebook_db_pool_connections{state=\"max\"}", "carebook_sse_subscribers",
                 "carebook_listen_connected 1.0", "carebook_holds_swept_total",
                 "carebook_events_outbox_lag_seconds_bucket", "carebook_job_relay_lag_seconds",
                 "carebook_job_relay_batch_jobs",
                 "carebook_dead_letters"):  # fmt: skip
        assert name in text, name


@pytest.mark.slow
async def test_metrics_aggregate_uvicorn_worker_processes(migrated: None, tmp_path: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "CAREBOOK_DB_POOL": "7"}
    async with app_process("multi", env, "--workers", "2") as (http, _proc, _log):
        # Both workers' pools are counted in every scrape, whichever worker answers.
        deadline = time.monotonic() + 20
        while True:
            text = (await http.get("/metrics")).text
            found = re.search(r'carebook_db_pool_connections\{state="max"\} ([0-9.]+)', text)
            if found and float(found.group(1)) == 14.0:
                break
            assert time.monotonic() < deadline, text[:2000]
            await asyncio.sleep(0.2)
        assert "carebook_http_request_duration_seconds_bucket" in text


PATIENT = {
    "name": "Zelda Quixote-Marsh",
    "email": "zelda.quixote@patients.example",
    "phone": "+44 20 7946 0958",
    "timezone": "Europe/London",
}


async def test_json_logs_carry_request_ids_and_no_patient_data(
    migrated: None, clinic: Clinic
) -> None:
    sid = await add_specialist(clinic.tenant, name="Dr Logs")
    cal = await add_calendar(clinic.tenant, [sid], name="Log visit")
    env = {"CAREBOOK_LOG_FORMAT": "json", "CAREBOOK_LOG_LEVEL": "DEBUG"}
    async with app_process("jsonlogs", env) as (http, _proc, log):
        start = date.today() + timedelta(days=1)
        r = await http.get(
            f"{clinic.public}/calendars/{cal['id']}/slots",
            params={"start": start.isoformat(), "end": (start + timedelta(days=6)).isoformat()},
        )
        slot = next(s for d in r.json()["days"] for s in d["slots"])
        r = await http.post(
            f"{clinic.public}/holds", json={"calendar_id": str(cal["id"]), "start": slot["start"]}
        )
        hold = r.json()

        async def book(patient: dict[str, Any]) -> httpx.Response:
            return await http.post(
                f"{clinic.public}/bookings",
                json={"hold_id": hold["hold_id"], "token": hold["token"], "patient": patient},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )

        # A refused booking first: validation errors must not echo the input into the logs.
        bad = {**PATIENT, "email": "zelda-without-at-sign", "phone": "call Zelda on 0777"}
        assert (await book(bad)).status_code == 422
        r = await book(PATIENT)
        assert r.status_code == 201, r.text
        manage = httpx.URL(r.json()["manage_url"])
        r = await http.get(manage.path, params=manage.params)
        assert r.status_code == 200
        r = await http.get(f"{clinic.api}/appointments", headers=clinic.headers,
                           params={"from": start.isoformat()})  # fmt: skip
        await http.get("/c/no-such-clinic/")
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    access = [r for r in records if r["logger"] == "carebook.access"]
    assert len(access) >= 6, lines[:20]
    assert all(r["request_id"] for r in access)
    assert {r["clinic"] for r in access if "{clinic" in r["route"]} >= {clinic.slug}
    assert any(r["route"] == "/c/{clinic}/manage/{appointment_id}" for r in access)
    text = log.read_text()
    for secret in (PATIENT["name"], "Zelda", "Quixote", PATIENT["email"], "zelda-without",
                   "7946", manage.params["token"]):  # fmt: skip
        assert secret not in text, secret
