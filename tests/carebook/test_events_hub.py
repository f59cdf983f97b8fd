"""The outbox, retention and the hub in-process (no HTTP): ordering, overflow, pruning, stop."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from carebook.events.hub import Hub, HubClosed
from carebook.events.outbox import AVAILABILITY_CHANGED, SLOT_BOOKED, SLOT_HELD, publish
from carebook.events.retention import PRUNE_LOCK_KEY, prune_events
from carebook.events.subscriber import CLOSE, RESYNC, Event, Subscriber
from carebook.settings import direct_database_url
from carebook.tenancy import tenant_tx
from tests.factories import add_calendar, add_specialist
from tests.sse_client import emit

SLOT = {"start": "2030-01-07T09:00:00+00:00", "end": "2030-01-07T09:30:00+00:00"}


@pytest.fixture
async def hub() -> Any:
    hub = Hub(direct_database_url())
    await hub.start()
    assert hub.listening
    yield hub
    await hub.stop()


async def next_item(sub: Subscriber) -> Any:
    return await asyncio.wait_for(sub.queue.get(), 5)


async def test_publish_rejects_unknown_types_and_private_data(clinic: Any) -> None:
    async with tenant_tx(clinic.tenant) as conn:
        with pytest.raises(ValueError, match="unknown event type"):
            await publish(conn, "patient.created", None)
        with pytest.raises(ValueError, match="not public"):
            await publish(conn, SLOT_HELD, None, {**SLOT, "patient_email": "a@b.test"})


async def test_ids_become_visible_in_commit_order(clinic: Any) -> None:
    """A later publisher waits for the earlier one's commit, so its id is larger and later."""
    first = await asyncpg.connect(direct_database_url())
    try:
        tx = first.transaction()
        await tx.start()
        await first.execute(f"SET LOCAL search_path TO {clinic.tenant.schema}, public")
        first_id = await publish(first, SLOT_HELD, None, SLOT)
        second = asyncio.create_task(emit(clinic.tenant, SLOT_BOOKED, None, SLOT))
        # The second writer is blocked on the clinic's advisory lock, not merely slow.
        for _ in range(200):
            waiting = await first.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            )
            if waiting:
                break
            await asyncio.sleep(0.01)
        assert waiting and not second.done()
        await tx.commit()
        second_id = await asyncio.wait_for(second, 5)
        assert second_id > first_id
    finally:
        await first.close()


async def test_routing_rules() -> None:
    s1, s2, cal, other_cal = (uuid.uuid4() for _ in range(4))
    sub = Subscriber("clinic_x", cal, frozenset({s1}), 10)

    def event(type_: str, specialist: uuid.UUID | None, data: dict[str, Any]) -> Event:
        row = {"id": 1, "type": type_, "specialist_id": specialist, "data": json.dumps(data)}
        return Event.from_row(row)

    assert sub.wants(event(SLOT_HELD, s1, {"calendar_id": str(other_cal)}))  # blocks s1 anywhere
    assert not sub.wants(event(SLOT_HELD, s2, {}))
    assert sub.wants(event(AVAILABILITY_CHANGED, None, {}))  # clinic-wide (closure)
    assert sub.wants(event(AVAILABILITY_CHANGED, None, {"calendar_id": str(cal)}))
    assert not sub.wants(event(AVAILABILITY_CHANGED, None, {"calendar_id": str(other_cal)}))
    assert not sub.wants(event(AVAILABILITY_CHANGED, s1, {"calendar_id": str(other_cal)}))
    frame = event(SLOT_HELD, s1, {**SLOT, "buffer_minutes": 5}).frame.decode()
    assert frame.startswith("id: 1\nevent: slot.held\ndata: {") and frame.endswith("}\n\n")


async def test_a_slow_subscriber_is_trimmed_to_resync_and_blocks_nobody(
    clinic: Any, hub: Hub
) -> None:
    sid = await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [sid]))["id"]
    slow = await hub.subscribe(clinic.tenant.schema, cal, queue_size=3)
    fast = await hub.subscribe(clinic.tenant.schema, cal, queue_size=100)
    written = [await emit(clinic.tenant, SLOT_HELD, sid, SLOT) for _ in range(10)]
    assert [(await next_item(fast)).id for _ in written] == written
    # 3 fit; the 4th overflowed to [resync], 5-6 followed, the 7th overflowed, ... the 10th.
    left = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
    assert [(e.type, e.id) for e in left] == [(RESYNC, written[-1])]
    assert slow.resyncs == 3
    assert hub.stats()["subscribers"] == 2
    hub.unsubscribe(slow)
    hub.unsubscribe(slow)  # idempotent
    hub.unsubscribe(fast)
    stats = hub.stats()
    assert {k: stats[k] for k in ("listening", "subscribers", "clinics", "reconnects")} == {
        "listening": True,
        "subscribers": 0,
        "clinics": 0,
        "reconnects": 0,
    }


async def test_stop_ends_streams_closes_the_connection_and_leaves_no_task(clinic: Any) -> None:
    sid = await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [sid]))["id"]
    hub = Hub(direct_database_url())
    await hub.start()
    sub = await hub.subscribe(clinic.tenant.schema, cal)
    conn = hub._conn
    tasks = [*hub._tasks, *hub._feed_tasks]
    assert conn is not None and len(tasks) == 4  # listen, prune, heartbeat, the clinic's feed
    await hub.stop()
    assert sub.queue.get_nowait() is CLOSE
    assert conn.is_closed() and not hub.listening
    assert all(t.done() for t in tasks) and not hub._tasks and not hub._feed_tasks
    with pytest.raises(HubClosed):
        await hub.subscribe(clinic.tenant.schema, cal)


async def test_prune_deletes_an_old_prefix_and_records_the_watermark(clinic: Any) -> None:
    schema = clinic.tenant.schema
    ids = [await emit(clinic.tenant, SLOT_HELD, None, SLOT) for _ in range(4)]
    async with tenant_tx(clinic.tenant) as conn:
        # ids[0], ids[1] and ids[3] are old; ids[2] is young, so ids[3] must stay too:
        # pruning only ever removes a prefix, which keeps the resync check exact.
        await conn.execute(
            "UPDATE events SET created_at = now() - interval '3 days' WHERE id = ANY($1)",
            [ids[0], ids[1], ids[3]],
        )
    assert await prune_events(schemas=[schema]) == {schema: 2}
    assert await prune_events(schemas=[schema]) == {}
    async with tenant_tx(clinic.tenant) as conn:
        assert [r["id"] for r in await conn.fetch("SELECT id FROM events ORDER BY id")] == ids[2:]
        assert await conn.fetchval("SELECT pruned_through FROM events_pruned") == ids[1]


async def test_prune_goes_on_past_a_clinic_it_cannot_prune(
    make_clinic: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Clinics are pruned a batch per statement; a batch that fails is retried clinic by
    clinic, so one broken clinic (here: a schema that is no clinic) stops nobody else's."""
    a, b = [(await make_clinic()).tenant for _ in range(2)]
    for tenant in (a, b):
        await emit(tenant, SLOT_HELD, None, SLOT)
    pruned = await prune_events(timedelta(0), schemas=[a.schema, "no_such_clinic", b.schema])
    assert pruned == {a.schema: 1, b.schema: 1}
    assert "pruning the events of no_such_clinic failed" in caplog.text


async def test_prune_skips_when_another_process_prunes() -> None:
    holder = await asyncpg.connect(direct_database_url())
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", PRUNE_LOCK_KEY)
        assert await prune_events(timedelta(hours=24), wait=False) is None
    finally:
        await holder.close()
