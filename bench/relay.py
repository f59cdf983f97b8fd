"""The job relay's own cost (issues 11 and 18): jobs/s and the relaying process's CPU per job,
sending each batch one ``enqueue()`` round trip per job (before) or pipelined (after).

``.venv/bin/python bench/relay.py [--jobs 5000] [--bookings 400] [--rounds 3]``: a fresh
database ``carebook_bench_relay`` (platform tables only) and a Redis namespace of its own; no
worker (the messages stay queued and are flushed). The two senders run in alternate rounds,
back to back, so a busy machine weighs on both alike. Two shapes:

- **drain**: ``--jobs`` jobs already in the outbox, claimed in batches of 200;
- **per booking**: five jobs committed, one ``relay_once()`` (the batch a booking's commit
  wakes the relay for), ``--bookings`` times; only the relay's calls are timed.

CPU is ``time.process_time()`` of this process (the event loop and the sending thread).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from common import machine, prepare

ACTOR, QUEUE = "bench.relay_sink", "bench_relay"
JOBS_PER_BOOKING = 5
_INSERT = """
INSERT INTO public.job_outbox (schema_name, actor, args)
SELECT 'clinic_bench', $1, jsonb_build_object('appointment_id', gen_random_uuid())
FROM generate_series(1, $2)
"""


def _one_by_one(broker: Any, messages: list[Any]) -> None:
    """The relay's sender before the pipeline: one Redis round trip per job."""
    for message in messages:
        broker.enqueue(message)


async def _drain(relay: Any, conn: Any, jobs: int) -> tuple[float, float]:
    await conn.execute(_INSERT, ACTOR, jobs)
    wall, cpu = time.perf_counter(), time.process_time()
    sent = 0
    while (n := await relay.relay_once(conn)) > 0:
        sent += n
    assert sent == jobs, (sent, jobs)
    return time.perf_counter() - wall, time.process_time() - cpu


async def _per_booking(relay: Any, conn: Any, bookings: int) -> tuple[float, float]:
    wall = cpu = 0.0
    for _ in range(bookings):
        await conn.execute(_INSERT, ACTOR, JOBS_PER_BOOKING)
        w, c = time.perf_counter(), time.process_time()
        assert await relay.relay_once(conn) == JOBS_PER_BOOKING
        wall += time.perf_counter() - w
        cpu += time.process_time() - c
    return wall, cpu


async def main(args: argparse.Namespace) -> None:
    import asyncpg
    import dramatiq

    from carebook.broker import broker
    from carebook.jobs import relay as relay_module
    from carebook.migrations import migrate_all

    await migrate_all(os.environ["DATABASE_URL"])
    dramatiq.actor(lambda **_: None, actor_name=ACTOR, queue_name=QUEUE)
    pipelined = relay_module._send
    senders = {"one round trip per job": _one_by_one, "pipelined batch": pipelined}
    results: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    relay = relay_module.Relay(os.environ["DATABASE_URL"])
    print(f"machine: {machine()}; load before: {os.getloadavg()}")
    try:
        await conn.execute("DELETE FROM public.job_outbox")
        for _ in range(args.rounds):
            for name, sender in senders.items():
                relay_module._send = sender  # type: ignore[assignment]
                runs = (
                    ("drain", _drain, args.jobs, args.jobs),
                    ("per booking", _per_booking, args.bookings,
                     args.bookings * JOBS_PER_BOOKING),
                )  # fmt: skip
                for shape, run, size, jobs in runs:
                    wall, cpu = await run(relay, conn, size)
                    results.setdefault((shape, name), []).append((wall, cpu, jobs))
                    broker.flush(QUEUE)
    finally:
        relay_module._send = pipelined  # type: ignore[assignment]
        await conn.close()
        broker.flush(QUEUE)
        broker.client.delete(f"{broker.namespace}:__heartbeats__")
    print(f"load after: {os.getloadavg()}")
    for (shape, name), runs in results.items():
        jobs = sum(j for *_, j in runs)
        wall = sum(w for w, _, _ in runs)
        cpu = sum(c for _, c, _ in runs)
        rates = ", ".join(f"{j / w:,.0f}" for w, _, j in runs)
        print(
            f"{shape:12} {name:24} {jobs / wall:8,.0f} jobs/s (rounds: {rates}); "
            f"CPU {cpu / jobs * 1000:.3f} ms/job, wall {wall / jobs * 1000:.3f} ms/job"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--bookings", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


if __name__ == "__main__":
    cli_args = parse_args()
    os.environ.setdefault("CAREBOOK_QUEUE_NAMESPACE", f"bench-relay-{os.getpid()}")
    prepare("carebook_bench_relay")
    asyncio.run(main(cli_args))
