"""Live-updates benchmark (issue 6): 1,000 SSE subscribers on ONE app process.

    .venv/bin/python bench/sse.py [--subscribers 1000] [--rate 20] [--seconds 15]

Uses DATABASE_URL/REDIS_URL when set, else embedded services under ``.carebook/bench``; the
data goes into its own database ``carebook_bench_sse`` (dropped and re-created). One uvicorn
process serves the app; this process opens the subscribers (raw asyncio sockets on uvloop,
so the client costs as little as possible) and commits the events itself, so commit and
delivery times come from one clock. Measures:

1. commit-to-delivery latency at a steady write rate (p50/p95/p99/max over all deliveries,
   from the moment COMMIT is sent),
2. NOTIFY/fan-out throughput: 4 writers committing as fast as they can for a few seconds,
   with all subscribers and again with 10,
3. hold expiry → ``slot.released`` delivery (a real hold through the API, then lapsed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import machine_info, percentile

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "carebook_bench_sse"
os.environ.setdefault("CAREBOOK_DATA_DIR", str(ROOT / ".carebook" / "bench"))
SLOT = {"start": "2030-01-07T09:00:00+00:00", "end": "2030-01-07T09:30:00+00:00"}


def raise_open_files() -> int:
    """Subscribers are sockets: lift the soft open-files limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}

    def at(p: float) -> float:
        return percentile(values, p) * 1000

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0),
            "n": float(len(values))}  # fmt: skip


@dataclass
class Subscriber:
    """One raw SSE connection: parses chunked HTTP and SSE blocks, records arrivals."""

    host: str
    port: int
    path: str
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    arrivals: dict[int, float] = field(default_factory=dict)  # event id -> monotonic time
    types: dict[int, str] = field(default_factory=dict)
    resyncs: int = 0
    last_id: int = 0
    count: int = 0
    record: bool = True
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Connect and keep reading until cancelled (a Protocol: no task wake-up per event)."""
        loop = asyncio.get_running_loop()
        closed = loop.create_future()
        transport, _ = await loop.create_connection(
            lambda: _SseProtocol(self, closed), self.host, self.port
        )
        try:
            await closed
        finally:
            transport.close()

    def on_event(self, event_id: int, type_: str, now: float) -> None:
        self.count += 1
        self.last_id = max(self.last_id, event_id)
        if type_ == "resync":
            self.resyncs += 1
        if self.record:
            self.arrivals[event_id] = now
            self.types[event_id] = type_
        self.wake.set()


_FRAME = re.compile(rb"id: (\d+)\nevent: ([^\n]+)\n")


class _SseProtocol(asyncio.Protocol):
    """Finds complete SSE blocks in the (chunked) body; chunk-size lines never match."""

    def __init__(self, sub: Subscriber, closed: asyncio.Future[None]) -> None:
        self.sub, self.closed = sub, closed
        self.buffer = b""
        self.in_body = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sub = self.sub
        request = (
            f"GET {sub.path} HTTP/1.1\r\nHost: {sub.host}\r\nAccept: text/event-stream\r\n\r\n"
        )
        transport.write(request.encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buffer = self.buffer + data
        if not self.in_body:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                self.buffer = buffer
                return
            if b" 200 " not in buffer[: buffer.find(b"\r\n")]:
                raise RuntimeError(buffer[:head_end].decode(errors="replace"))
            self.in_body, buffer = True, buffer[head_end + 4 :]
        end = buffer.rfind(b"\n\n")
        if end < 0:
            self.buffer = buffer
            return
        complete, self.buffer = buffer[: end + 2], buffer[end + 2 :]
        if b"retry: " in complete:
            self.sub.ready.set()
        for match in _FRAME.finditer(complete):
            self.sub.on_event(int(match[1]), match[2].decode(), now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def wait_all(subs: list[Subscriber], last_id: int, timeout: float) -> None:
    async def one(sub: Subscriber) -> None:
        while sub.last_id < last_id:
            sub.wake.clear()
            await sub.wake.wait()

    await asyncio.wait_for(asyncio.gather(*(one(s) for s in subs)), timeout)


# ---- setup ---------------------------------------------------------------------------


def prepare_services() -> tuple[str, str]:
    from carebook.runtime import create_database, ensure_services, with_database
    from carebook.settings import get_settings

    _, redis_url = ensure_services(get_settings().data_dir)
    db_url = with_database(os.environ["DATABASE_URL"], DB_NAME)
    asyncio.run(create_database(db_url, drop_first=True))
    os.environ["DATABASE_URL"] = db_url
    return db_url, redis_url


async def seed(db_url: str, clinics: int) -> list[dict[str, Any]]:
    from carebook.migrations import migrate_all

    await migrate_all(db_url)
    return [await seed_clinic(db_url) for _ in range(clinics)]


async def seed_clinic(db_url: str) -> dict[str, Any]:
    from tenants.service import find_tenant, onboard_clinic

    slug = f"bench{uuid.uuid4().hex[:8]}"
    await onboard_clinic(slug=slug, name="SSE bench", timezone="Europe/Berlin",
                         admin_email=f"admin@{slug}.test")  # fmt: skip
    tenant = await find_tenant(slug)
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(f"SET search_path TO {tenant.schema}, public")
        sid = await conn.fetchval(
            "INSERT INTO specialists (name, email, timezone) VALUES ('Dr Bench', "
            "'bench@specialists.test', 'Europe/Berlin') RETURNING id"
        )
        for dow in range(1, 8):
            await conn.execute(
                "INSERT INTO weekly_intervals (specialist_id, isodow, starts, ends) "
                "VALUES ($1, $2, '00:00', '24:00')",
                sid,
                dow,
            )
        service = await conn.fetchval(
            "INSERT INTO services (name, default_duration_minutes) "
            "VALUES ('Bench', 30) RETURNING id"
        )
        cal = await conn.fetchval(
            "INSERT INTO calendars (service_id, name, slug, price_minor, currency, "
            "duration_minutes, min_notice_minutes) VALUES ($1, 'Bench', 'bench', 0, 'EUR', 30, 0) "
            "RETURNING id",
            service,
        )
        await conn.execute("INSERT INTO calendar_specialists VALUES ($1, $2)", cal, sid)
    finally:
        await conn.close()
    return {"slug": slug, "schema": tenant.schema, "specialist": sid, "calendar": cal}


def start_server(port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CAREBOOK_BASE_URL": f"http://127.0.0.1:{port}",
    }
    log = (ROOT / ".carebook" / "bench" / "sse-server.log").open("wb")
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
                raise RuntimeError("server exited; see .carebook/bench/sse-server.log")
            try:
                if (await http.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


# ---- phases --------------------------------------------------------------------------


class Writer:
    """Commits one event per transaction, exactly as a route would (``publish`` last)."""

    def __init__(self, conn: Any, schema: str, specialist: Any) -> None:
        self.conn, self.schema, self.specialist = conn, schema, specialist

    async def commit_one(self) -> tuple[int, float]:
        from carebook.events.outbox import SLOT_HELD, publish

        tx = self.conn.transaction()
        await tx.start()
        await self.conn.execute(f"SET LOCAL search_path TO {self.schema}, public")
        event_id = await publish(self.conn, SLOT_HELD, self.specialist, SLOT)
        sent = time.monotonic()  # COMMIT is sent now; NOTIFY goes out during it
        await tx.commit()
        return event_id, sent


async def latency_phase(
    subs: list[Subscriber], writer: Writer, rate: float, seconds: float, pid: int
) -> dict[str, Any]:
    for sub in subs:
        sub.record, sub.arrivals, sub.types = True, {}, {}
    commits: dict[int, float] = {}
    cpu, own = server_cpu(pid), time.process_time()
    interval, due = 1.0 / rate, time.monotonic()
    for _ in range(int(rate * seconds)):
        event_id, sent = await writer.commit_one()
        commits[event_id] = sent
        due += interval
        await asyncio.sleep(max(0.0, due - time.monotonic()))
    await wait_all(subs, max(commits), 60)
    cpu, own = server_cpu(pid) - cpu, time.process_time() - own
    samples = [s.arrivals[i] - t for s in subs for i, t in commits.items() if i in s.arrivals]
    missing = sum(1 for s in subs for i in commits if i not in s.arrivals)
    n = max(1, len(samples))
    return {
        "events": len(commits),
        "rate_per_s": rate,
        "deliveries": len(samples),
        "missing": missing,
        "resyncs": sum(s.resyncs for s in subs),
        **percentiles(samples),
        "server_cpu_us_per_delivery": round(cpu / n * 1e6, 1),
        "bench_client_cpu_us_per_delivery": round(own / n * 1e6, 1),
    }


def server_cpu(pid: int) -> float:
    """User + system CPU seconds the server process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def throughput_phase(
    groups: list[tuple[list[Subscriber], list[Writer]]], seconds: float, pid: int
) -> dict[str, Any]:
    """Writers commit as fast as they can; each group is one clinic with its subscribers."""
    subs = [s for group, _ in groups for s in group]
    for sub in subs:
        sub.record, sub.resyncs = False, 0
    cpu = server_cpu(pid)
    started = time.monotonic()
    stop = started + seconds

    async def write(w: Writer) -> tuple[int, int]:
        n, last = 0, 0
        while time.monotonic() < stop:
            last, _ = await w.commit_one()
            n += 1
        return n, last

    flat = await asyncio.gather(*(write(w) for _, ws in groups for w in ws))
    results, i = [], 0
    for _, ws in groups:  # regroup the writers' (count, last id) per clinic
        results.append(flat[i : i + len(ws)])
        i += len(ws)
    committed = sum(n for r in results for n, _ in r)
    commit_seconds = time.monotonic() - started
    await asyncio.gather(
        *(wait_all(group, max(last for _, last in r), 120)
          for (group, _), r in zip(groups, results, strict=True))
    )  # fmt: skip
    delivered_seconds = time.monotonic() - started
    deliveries = sum(
        n * len(group) for (group, _), r in zip(groups, results, strict=True) for n, _ in r
    )
    return {
        "clinics": len(groups),
        "subscribers": len(subs),
        "writers": sum(len(ws) for _, ws in groups),
        "committed": committed,
        "committed_per_s": round(committed / commit_seconds),
        "delivered_events_per_s": round(committed / delivered_seconds),
        "deliveries_per_s": round(deliveries / delivered_seconds),
        "drain_after_last_commit_s": round(delivered_seconds - commit_seconds, 3),
        "resyncs": sum(s.resyncs for s in subs),
        "server_cpu_us_per_delivery": round((server_cpu(pid) - cpu) / deliveries * 1e6, 1),
    }


async def expiry_phase(
    subs: list[Subscriber], url: str, info: dict[str, Any], db_url: str, rounds: int
) -> dict[str, Any]:
    import asyncpg
    import httpx

    samples: list[float] = []
    zone = ZoneInfo("Europe/Berlin")
    day = datetime.now(zone).date() + timedelta(days=2)
    conn = await asyncpg.connect(db_url)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for k in range(rounds):
                start = datetime(day.year, day.month, day.day, 8, tzinfo=zone) + timedelta(
                    minutes=30 * k
                )
                response = await http.post(
                    f"/api/v1/clinics/{info['slug']}/public/holds",
                    json={"calendar_id": str(info["calendar"]), "start": start.isoformat()},
                )
                if response.status_code == 404:
                    return {"status": "pending: no holds endpoint"}
                response.raise_for_status()
                hold_id = uuid.UUID(response.json()["hold_id"])
                held = await conn.fetchval(f"SELECT max(id) FROM {info['schema']}.events")
                await wait_all(subs, held, 30)
                for sub in subs:
                    sub.record, sub.arrivals, sub.types = True, {}, {}
                expired = time.monotonic()
                async with conn.transaction():
                    await conn.execute(
                        f"UPDATE {info['schema']}.appointments SET hold_expires_at = now() "
                        "WHERE id = $1",
                        hold_id,
                    )
                    await conn.execute(
                        "UPDATE public.hold_expiries SET expires_at = now() "
                        "WHERE appointment_id = $1",
                        hold_id,
                    )

                async def released(sub: Subscriber, expired: float = expired) -> float:
                    while True:
                        for event_id, type_ in sub.types.items():
                            if type_ == "slot.released":
                                return sub.arrivals[event_id] - expired
                        sub.wake.clear()
                        await sub.wake.wait()

                samples += await asyncio.wait_for(asyncio.gather(*(released(s) for s in subs)), 30)
    finally:
        await conn.close()
    return {"holds": rounds, **percentiles(samples)}


async def open_subscribers(url: str, info: dict[str, Any], count: int) -> list[Subscriber]:
    port = int(url.rsplit(":", 1)[1])
    path = f"/api/v1/clinics/{info['slug']}/public/calendars/{info['calendar']}/events"
    subs = [Subscriber("127.0.0.1", port, path) for _ in range(count)]
    for batch in range(0, len(subs), 100):  # connect in waves: a SYN storm proves nothing
        wave = subs[batch : batch + 100]
        for sub in wave:
            sub.task = asyncio.create_task(sub.run())
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in wave)), 60)
    return subs


async def bench(
    args: argparse.Namespace, infos: list[dict[str, Any]], db_url: str, url: str, pid: int
) -> dict[str, Any]:
    import asyncpg

    info = infos[0]
    opened = time.monotonic()
    subs = await open_subscribers(url, info, args.subscribers)
    results: dict[str, Any] = {
        "subscribers": len(subs),
        "connect_all_s": round(time.monotonic() - opened, 2),
    }
    conns = [await asyncpg.connect(db_url) for _ in range(4 + len(infos))]
    writers = [Writer(c, info["schema"], info["specialist"]) for c in conns[:4]]
    others = [
        Writer(c, i["schema"], i["specialist"]) for c, i in zip(conns[4:], infos, strict=True)
    ]
    every: list[Subscriber] = list(subs)
    try:
        results["latency"] = await latency_phase(subs, writers[0], args.rate, args.seconds, pid)
        results["throughput_1_clinic"] = await throughput_phase(
            [(subs, writers)], args.burst_seconds, pid
        )
        results["expiry"] = await expiry_phase(subs, url, info, db_url, args.holds)
        for sub in subs[10:]:
            assert sub.task is not None
            sub.task.cancel()
        groups = [(subs[:10], [others[0]])]
        for other, writer in zip(infos[1:], others[1:], strict=True):
            group = await open_subscribers(url, other, 10)
            every += group
            groups.append((group, [writer]))
        results["throughput_n_clinics"] = await throughput_phase(groups, args.burst_seconds, pid)
    finally:
        for sub in every:
            if sub.task is not None:
                sub.task.cancel()
        await asyncio.gather(*(s.task for s in every if s.task), return_exceptions=True)
        for c in conns:
            await c.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="events/s in the latency phase")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the latency phase")
    parser.add_argument(
        "--burst-seconds", type=float, default=5.0, help="length of a throughput phase"
    )
    parser.add_argument("--holds", type=int, default=5, help="holds to let expire")
    parser.add_argument("--clinics", type=int, default=4, help="clinics in the last phase")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    nofile = raise_open_files()
    load_before = os.getloadavg()
    db_url, _ = prepare_services()
    infos = asyncio.run(seed(db_url, args.clinics))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = start_server(port)
    try:
        asyncio.run(wait_healthy(url, server))
        import uvloop

        results = uvloop.run(bench(args, infos, db_url, url, server.pid))
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    import asyncpg

    async def version() -> str:
        conn = await asyncpg.connect(db_url)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    results["machine"] = {
        **machine_info(),
        "postgres": asyncio.run(version()),
        "open_files": nofile,
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
    }
    print(json.dumps(results, indent=2, default=str))
    lat = results["latency"]
    print(f"\ncommit-to-delivery: p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms, "
          f"p99 {lat['p99_ms']:.1f} ms (goal p99 < 150 ms), missing {lat['missing']}")  # fmt: skip


if __name__ == "__main__":
    main()
