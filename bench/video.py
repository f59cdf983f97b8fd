"""Video benchmark: signalling round trip across two app processes, and room create/delete
throughput against the fake Daily server with Daily's rate limits.

    DATABASE_URL=postgresql://… REDIS_URL=redis://… .venv/bin/python bench/video.py \
        --rounds 300 --rooms 40

Phase 1: the patient's websocket is on app process A, the specialist's on process B (so each
message crosses Redis pub/sub). The specialist sends an "offer" (a realistic 3 KB SDP), the
patient's client answers as soon as it arrives, and the round trip offer → answer is timed.
Phase 2: ``--rooms`` rooms are created and deleted through ``DailyProvider`` against the fake
Daily (20 req/s, DELETE 2 req/s): the provider's pacing and 429 handling set the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from common import ROOT, machine, percentile

sys.path.insert(0, str(ROOT))  # tests.video.fake_daily
DB_NAME = "carebook_bench_video"


def prepare_services() -> str:
    os.environ.setdefault("CAREBOOK_DATA_DIR", str(ROOT / ".carebook" / "bench"))
    from carebook.runtime import create_database, ensure_services, with_database
    from carebook.settings import get_settings

    ensure_services(get_settings().data_dir)
    db_url = with_database(os.environ["DATABASE_URL"], DB_NAME)
    asyncio.run(create_database(db_url, drop_first=True))
    os.environ["DATABASE_URL"] = db_url
    return db_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, name: str) -> subprocess.Popen[bytes]:
    log = (ROOT / ".carebook" / "bench" / f"video-server-{name}.log").open("wb")
    env = {**os.environ, "CAREBOOK_BASE_URL": f"http://127.0.0.1:{port}", "CAREBOOK_RELAY": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "carebook.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip


async def wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=1) as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("server exited; see .carebook/bench/video-server-*.log")
            try:
                if (await http.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def seed(db_url: str) -> dict[str, Any]:
    """A clinic with one video appointment starting in 5 minutes; both participants' tokens."""
    import asyncpg

    from carebook.migrations import migrate_all
    from carebook.tokens import new_token, token_digest
    from tenants.service import find_tenant, onboard_clinic
    from video.builtin import TokenClaims, issue_token
    from video.providers import room_name, room_spec

    await migrate_all(db_url)
    slug = f"bench{uuid.uuid4().hex[:8]}"
    await onboard_clinic(slug=slug, name="Video bench", timezone="Europe/Berlin",
                         admin_email=f"admin@{slug}.test")  # fmt: skip
    tenant = await find_tenant(slug)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    end = start + timedelta(minutes=30)
    manage = new_token("cbm")
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(f'SET search_path TO "{tenant.schema}", public')
        sid = await conn.fetchval(
            "INSERT INTO specialists (name, email, timezone) VALUES ('Dr Bench', "
            "'bench@specialists.test', 'Europe/Berlin') RETURNING id"
        )
        service = await conn.fetchval(
            "INSERT INTO services (name, default_duration_minutes) VALUES ('V', 30) RETURNING id"
        )
        cal = await conn.fetchval(
            "INSERT INTO calendars (service_id, name, slug, price_minor, currency, "
            "duration_minutes, video) VALUES ($1, 'Video', 'video', 0, 'EUR', 30, true) "
            "RETURNING id",
            service,
        )
        pid = await conn.fetchval(
            "INSERT INTO patients (email, name, timezone) VALUES ('p@bench.test', 'Pat', "
            "'Europe/Berlin') RETURNING id"
        )
        aid = await conn.fetchval(
            """INSERT INTO appointments (calendar_id, specialist_id, patient_id, status,
                   starts_at, ends_at, blocking, manage_token_hash)
               VALUES ($1, $2, $3, 'booked', $4, $5, tstzrange($4, $5), $6) RETURNING id""",
            cal, sid, pid, start, end, token_digest(manage),
        )  # fmt: skip
    finally:
        await conn.close()
    spec = room_spec(aid, start, end)
    owner = issue_token(TokenClaims(room_name(aid), True, "Dr Bench",
                                    int(spec.opens_at.timestamp()),
                                    int(spec.closes_at.timestamp())))  # fmt: skip
    return {"slug": slug, "appointment": str(aid), "manage": manage, "owner": owner}


async def signalling_phase(
    a_url: str, b_url: str, info: dict[str, Any], rounds: int
) -> dict[str, Any]:
    import websockets

    path = f"/c/{info['slug']}/video/{info['appointment']}/ws?token="
    sdp = "v=0\r\n" + "a=candidate:1 1 udp 2122260223 192.0.2.2 54321 typ host\r\n" * 50
    async with (
        websockets.connect(a_url.replace("http", "ws") + path + info["manage"]) as patient,
        websockets.connect(b_url.replace("http", "ws") + path + info["owner"]) as doctor,
    ):
        for ws in (patient, doctor):
            assert json.loads(await ws.recv())["type"] == "welcome"

        async def patient_answers() -> None:
            async for raw in patient:
                message = json.loads(raw)
                if message["type"] == "offer":
                    answer = {"type": "answer", "sdp": sdp}
                    await patient.send(
                        json.dumps({"type": "answer", "sid": message["sid"], "sdp": answer})
                    )

        answering = asyncio.create_task(patient_answers())
        await asyncio.sleep(0.2)  # both subscriptions are live
        rtts: list[float] = []
        for i in range(rounds):
            sent = time.perf_counter()
            await doctor.send(json.dumps({"type": "offer", "sid": str(i),
                                          "sdp": {"type": "offer", "sdp": sdp}}))  # fmt: skip
            while True:
                message = json.loads(await asyncio.wait_for(doctor.recv(), 10))
                if message["type"] == "answer" and message["sid"] == str(i):
                    break
            rtts.append((time.perf_counter() - sent) * 1000)
        answering.cancel()
    return {
        "rounds": rounds,
        "p50_ms": round(percentile(rtts, 0.5), 2),
        "p99_ms": round(percentile(rtts, 0.99), 2),
        "max_ms": round(max(rtts), 2),
    }


async def daily_phase(rooms: int) -> dict[str, Any]:
    from tests.video.fake_daily import FakeDaily

    from video.config import VideoSettings
    from video.daily import DailyProvider
    from video.providers import room_spec

    fake = FakeDaily()
    await fake.start()
    try:
        daily = DailyProvider(VideoSettings(daily_api_key=fake.api_key, daily_api_url=fake.url))
        start = datetime.now(UTC) + timedelta(days=1)
        specs = [room_spec(uuid.uuid4(), start, start + timedelta(minutes=30))
                 for _ in range(rooms)]  # fmt: skip
        t0 = time.perf_counter()
        await asyncio.gather(*(daily.create_room(s) for s in specs))
        t1 = time.perf_counter()
        create_429 = fake.responses.count(429)
        await asyncio.gather(*(daily.delete_room(s.name) for s in specs))
        t2 = time.perf_counter()
        assert not fake.rooms
    finally:
        await fake.stop()
    return {
        "rooms": rooms,
        "create_per_s": round(rooms / (t1 - t0), 1),
        "delete_per_s": round(rooms / (t2 - t1), 2),
        "create_429": create_429,
        "delete_429": fake.responses.count(429) - create_429,
    }


async def run(args: argparse.Namespace, db_url: str) -> None:
    info = await seed(db_url)
    ports = free_port(), free_port()
    procs = [start_server(ports[0], "a"), start_server(ports[1], "b")]
    try:
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url, proc in zip(urls, procs, strict=True):
            await wait_healthy(url, proc)
        signalling = await signalling_phase(urls[0], urls[1], info, args.rounds)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    daily = await daily_phase(args.rooms)
    print(f"machine: {machine()}")
    print(f"signalling offer→answer across two app processes (Redis pub/sub): {signalling}")
    print(f"fake Daily (20 req/s, DELETE 2 req/s) create/delete: {daily}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--rooms", type=int, default=40)
    args = parser.parse_args()
    db_url = prepare_services()
    asyncio.run(run(args, db_url))


if __name__ == "__main__":
    main()
