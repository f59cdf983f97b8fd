"""The job outbox, relay, actors, scheduler and dead letters (issue 11), with a real relay,
a real Dramatiq worker on Redis and real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

import httpx

import tests.carebook.job_probe as job_probe
from carebook.jobs import outbox
from carebook.jobs.scheduler import Scheduler
from carebook.tenancy import tenant_tx
from tests.bookings.lifecycle_support import book, detail, outbox_jobs
from tests.bookings.support import bookable, slot
from tests.conftest import DATABASE_URL, Clinic, JobsRunning, clear_job_outbox, wait_for


async def _enqueue_probes(clinic: Clinic, n: int, **args: object) -> list[UUID]:
    async with tenant_tx(clinic.tenant) as conn:
        return [
            await outbox.enqueue(conn, job_probe.PROBE, {"label": f"p{i}", **args})
            for i in range(n)
        ]


async def test_relay_hands_committed_jobs_to_the_worker_once(
    clinic: Clinic, jobs_running: JobsRunning
) -> None:
    await job_probe.create_probe_tables(clinic.tenant)
    ids = await _enqueue_probes(clinic, 20)
    await wait_for(lambda: _effects_at_least(clinic, 20))
    for job_id in ids:
        assert await job_probe.counts(clinic.tenant, job_id) == (1, 1)


async def test_a_job_delivered_twice_has_its_effect_once(
    clinic: Clinic, jobs_running: JobsRunning
) -> None:
    await job_probe.create_probe_tables(clinic.tenant)
    # The same job twice in the outbox, committed together (the relay must not get to the
    # first before the second exists): what a relay that died before its commit re-sends.
    async with tenant_tx(clinic.tenant) as conn:
        job_id = await outbox.enqueue(conn, job_probe.PROBE, {"label": "twice"})
        await conn.execute(
            "INSERT INTO public.job_outbox (job_id, schema_name, actor, args) "
            "SELECT job_id, schema_name, actor, args FROM public.job_outbox WHERE job_id = $1",
            job_id,
        )

    async def both_delivered() -> bool:
        deliveries, effects = await job_probe.counts(clinic.tenant, job_id)
        assert effects <= 1, "a duplicate delivery repeated the effect"
        return deliveries == 2 and effects == 1

    await wait_for(both_delivered)
    async with tenant_tx(clinic.tenant) as conn:
        runs = await conn.fetchval("SELECT count(*) FROM job_runs WHERE job_id = $1", job_id)
    assert runs == 1


async def test_rolled_back_jobs_are_never_sent(clinic: Clinic, jobs_running: JobsRunning) -> None:
    await job_probe.create_probe_tables(clinic.tenant)
    try:
        async with tenant_tx(clinic.tenant) as conn:
            await outbox.enqueue(conn, job_probe.PROBE, {"label": "ghost"})
            raise RuntimeError("the change fails")
    except RuntimeError:
        pass
    await _enqueue_probes(clinic, 1)
    await wait_for(lambda: _effects_at_least(clinic, 1))
    async with tenant_tx(clinic.tenant) as conn:
        labels = await conn.fetch("SELECT label FROM probe_effects")
    assert [r["label"] for r in labels] == ["p0"]


async def test_exhausted_job_becomes_a_dead_letter_and_retry_works(
    client: httpx.AsyncClient, platform_token: str, clinic: Clinic, jobs_running: JobsRunning
) -> None:
    await job_probe.create_probe_tables(clinic.tenant)
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute("INSERT INTO probe_failing (label) VALUES ('doomed')")
        job_id = await outbox.enqueue(conn, job_probe.PROBE, {"label": "doomed"})
    auth = {"Authorization": f"Bearer {platform_token}"}

    async def dead_letter() -> dict[str, object] | None:
        r = await client.get("/api/v1/platform/dead-letters", headers=auth)
        assert r.status_code == 200, r.text
        return next((d for d in r.json() if d["job_id"] == str(job_id)), None)

    letter = await wait_for(dead_letter)
    assert letter["actor"] == job_probe.PROBE
    assert letter["clinic"] == clinic.slug
    assert letter["attempts"] == 2  # the first try and max_retries=1 retry
    assert "told to fail" in str(letter["error"])
    assert await job_probe.counts(clinic.tenant, job_id) == (2, 0)

    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute("DELETE FROM probe_failing")
    r = await client.post(f"/api/v1/platform/dead-letters/{letter['id']}/retry", headers=auth)
    assert r.status_code == 202, r.text
    assert r.json()["job_id"] == str(job_id)

    async def done() -> bool:
        return (await job_probe.counts(clinic.tenant, job_id))[1] == 1

    await wait_for(done)
    r = await client.post(f"/api/v1/platform/dead-letters/{letter['id']}/retry", headers=auth)
    assert r.status_code == 404
    assert await dead_letter() is None  # retried letters leave the open list


async def test_scheduler_moves_booked_to_upcoming_through_the_actor(
    client: httpx.AsyncClient, clinic: Clinic, jobs_running: JobsRunning
) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup, slot(clinic.tenant, days=1, hour=10))
    aid = appt["appointment_id"]
    scheduler = Scheduler(DATABASE_URL)
    async with tenant_tx(clinic.tenant) as conn:  # due now (lead 24 h, start within ~1-2 days)
        await conn.execute(
            "UPDATE public.scheduled_jobs SET due_at = now() WHERE schema_name = $1 AND key = $2",
            clinic.tenant.schema, f"appointment:{aid}:upcoming",
        )  # fmt: skip
        assert await scheduler.move_due(conn) >= 1
        assert await scheduler.move_due(conn) == 0  # moved once

    async def upcoming() -> bool:
        return (await detail(client, clinic, aid))["status"] == "upcoming"

    await wait_for(upcoming)
    body = await detail(client, clinic, aid)
    last = body["history"][-1]
    assert (last["from_status"], last["to_status"], last["actor_kind"]) == (
        "booked", "upcoming", "system",
    )  # fmt: skip
    assert [j["actor"] for j in await outbox_jobs(clinic.tenant, aid)] == []  # all relayed


async def test_a_rescheduled_appointment_moves_at_its_new_time_only(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    old = slot(clinic.tenant, days=1, hour=10)
    new = slot(clinic.tenant, days=5, hour=10)
    appt = await book(client, clinic, setup, old)
    aid = appt["appointment_id"]
    version = (await detail(client, clinic, aid))["version"]
    r = await client.post(f"{clinic.api}/appointments/{aid}/reschedule",
                          json={"version": version, "start": new.isoformat()},
                          headers=clinic.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch(
            "SELECT key, due_at, args FROM public.scheduled_jobs WHERE schema_name = $1",
            clinic.tenant.schema,
        )
    assert len(rows) == 1  # the old time's row was replaced in the reschedule's transaction
    assert rows[0]["due_at"] == new - timedelta(hours=24)


async def test_mark_upcoming_ignores_a_job_for_an_old_start(
    client: httpx.AsyncClient, clinic: Clinic, jobs_running: JobsRunning
) -> None:
    setup = await bookable(clinic.tenant)
    old = slot(clinic.tenant, days=1, hour=10)
    appt = await book(client, clinic, setup, old)
    aid = appt["appointment_id"]
    version = (await detail(client, clinic, aid))["version"]
    r = await client.post(f"{clinic.api}/appointments/{aid}/reschedule",
                          json={"version": version, "start": slot(clinic.tenant, 5).isoformat()},
                          headers=clinic.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    async with tenant_tx(clinic.tenant) as conn:
        # The job of the old time, as if it had been enqueued before the reschedule.
        stale = await outbox.enqueue(
            conn, "bookings.mark_upcoming", {"appointment_id": aid, "starts_at": old.isoformat()}
        )

    async def stale_done() -> bool:
        async with tenant_tx(clinic.tenant) as conn:
            return bool(await conn.fetchval("SELECT 1 FROM job_runs WHERE job_id = $1", stale))

    await wait_for(stale_done)
    assert (await detail(client, clinic, aid))["status"] == "booked"


async def test_one_scheduler_leads_and_another_takes_over() -> None:
    first, second = Scheduler(DATABASE_URL), Scheduler(DATABASE_URL)
    await first.start()
    await wait_for(_is_leader(first))
    await second.start()
    try:
        for _ in range(3):  # the second keeps trying and keeps failing while the first leads
            await asyncio.sleep(0.2)
            assert first.is_leader and not second.is_leader
        await first.stop()
        await wait_for(_is_leader(second), timeout=10)
    finally:
        await first.stop()
        await second.stop()


def _is_leader(scheduler: Scheduler):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return scheduler.is_leader

    return check


async def _effects_at_least(clinic: Clinic, n: int) -> bool:
    return (await job_probe.counts(clinic.tenant))[1] >= n


async def test_commits_made_while_the_relay_rests_go_in_one_round(clinic: Clinic) -> None:
    """After a round that sent jobs the relay rests (``coalesce_ms``) before claiming again:
    under load, the jobs of several commits share one claim and one Redis round trip."""
    from carebook.jobs.relay import Relay

    await clear_job_outbox()  # no other test's jobs
    await job_probe.create_probe_tables(clinic.tenant)

    async def commit_one() -> None:
        async with tenant_tx(clinic.tenant) as conn:
            await outbox.enqueue(conn, job_probe.PROBE, {"label": "rest"})

    relay = Relay(DATABASE_URL, coalesce_ms=2000)
    await relay.start()
    try:
        await commit_one()

        async def sent(n: int) -> bool:
            return relay.sent >= n

        await wait_for(lambda: sent(1))
        assert relay.rounds == 1
        await commit_one()  # two commits while it rests...
        await commit_one()
        await wait_for(lambda: sent(3))
        assert relay.rounds == 2  # ...one round
    finally:
        await relay.stop()
