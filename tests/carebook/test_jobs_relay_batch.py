"""The relay sends a batch in one pipelined Redis round trip (issues 11 and 18), in
Dramatiq's own queue format, consumed by Dramatiq's own Redis consumer (real Redis)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import dramatiq
import pytest

import carebook.actors  # noqa: F401 - declares every actor
import tests.carebook.job_probe as job_probe
from carebook.broker import broker
from carebook.jobs.relay import _send, pipelined


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of this test's own (no worker consumes it), emptied afterwards."""
    name = f"tests-batch-{uuid4().hex[:12]}"
    yield name
    broker.flush(name)


def _messages(queue: str, n: int) -> list[dramatiq.Message[Any]]:
    actor = broker.get_actor(job_probe.PROBE)
    return [
        dramatiq.Message(
            queue_name=queue,
            actor_name=actor.actor_name,
            args=(),
            kwargs={"schema": "clinic_x", "job_id": str(uuid4()), "args": {"label": f"b{i}"}},
            options={"committed_at": time.time()},
            message_id=str(uuid4()),
            message_timestamp=int(time.time() * 1000),
        )
        for i in range(n)
    ]


def _queued(queue: str) -> list[dramatiq.Message[Any]]:
    """The messages waiting on ``queue``, in order, decoded as Dramatiq stores them."""
    key = f"{broker.namespace}:{queue}"
    ids = broker.client.lrange(key, 0, -1)
    if not ids:
        return []
    return [dramatiq.Message.decode(d) for d in broker.client.hmget(f"{key}.msgs", ids)]


def _without_redis_id(message: dramatiq.Message[Any]) -> dict[str, Any]:
    fields = message.asdict()
    fields["options"] = {k: v for k, v in fields["options"].items() if k != "redis_message_id"}
    return fields


def test_a_batch_is_one_pipeline_in_dramatiqs_own_format(queue: str) -> None:
    messages = _messages(queue, 5)
    broker.client.script_load(broker.scripts["dispatch"].script)  # as _send() does on NOSCRIPT
    with pipelined(broker, messages) as pipe:
        assert len(pipe) == 5  # one EVALSHA each, all in one pipeline
        assert _queued(queue) == []  # nothing sent before the pipeline runs
        pipe.execute()
    sent = _queued(queue)
    assert [m.message_id for m in sent] == [m.message_id for m in messages]
    assert len({m.options["redis_message_id"] for m in sent}) == 5

    # Byte for byte what Dramatiq's own enqueue() stores, but for the per-send Redis id.
    broker.flush(queue)
    for message in messages:
        broker.enqueue(message)
    assert [_without_redis_id(m) for m in sent] == [_without_redis_id(m) for m in _queued(queue)]


def test_dramatiqs_consumer_reads_a_pipelined_batch(queue: str) -> None:
    messages = _messages(queue, 3)
    _send(broker, messages)
    consumer = broker.consume(queue, prefetch=3, timeout=1000)
    try:
        got = [next(consumer) for _ in range(3)]
        assert [m.message_id for m in got] == [m.message_id for m in messages]
        assert [m.kwargs["args"] for m in got] == [{"label": f"b{i}"} for i in range(3)]
        for m in got:
            consumer.ack(m)
    finally:
        consumer.close()
    assert _queued(queue) == []


def test_send_loads_the_script_again_when_redis_has_forgotten_it(queue: str) -> None:
    """After a Redis restart the server has no scripts: EVALSHA fails with NOSCRIPT for the
    whole batch; the relay loads the script and sends the batch again."""
    script = broker.scripts["dispatch"]
    real = script.sha
    script.sha = "0" * 40  # a script Redis does not know, as after a restart
    try:
        _send(broker, _messages(queue, 4))
        assert script.sha == real
    finally:
        script.sha = real
    assert len(_queued(queue)) == 4
