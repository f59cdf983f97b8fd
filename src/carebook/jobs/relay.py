"""The relay: hands committed jobs from ``public.job_outbox`` to Dramatiq (issue 11).

One asyncio task per process that runs it (every app process, and ``carebook scheduler``).
It keeps one dedicated connection that LISTENs on ``carebook_jobs`` (the outbox's insert
trigger NOTIFYs at commit) and polls every ``POLL_SECONDS`` besides, in case a wake-up was
missed. Each round claims a batch ``FOR UPDATE SKIP LOCKED`` (several relays never claim the
same row), enqueues the whole batch to Redis in one pipelined round trip with
``message_id = job_id``, and deletes the batch in the same transaction. A crash before that
commit leaves the rows to be sent again, so a message may be delivered twice but never lost;
actors are idempotent (``run_once``).
Its cost does not depend on the number of clinics: it reads one platform table.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import os
import time
from typing import Any

import asyncpg
import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import ActorNotFound
from redis.client import Pipeline
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from carebook import metrics
from carebook.jobs import deadletters

log = logging.getLogger(__name__)

CHANNEL = "carebook_jobs"
BATCH = 200
POLL_SECONDS = 1.0
# After a round that sent jobs, the relay rests this long before it claims again, so that
# under load the jobs of several commits go in one round (a round's claim transaction and
# Redis round trip cost more than its jobs); a commit after a quiet spell is claimed at once.
# CAREBOOK_RELAY_COALESCE_MS overrides it (0: no rest).
COALESCE_MS = 5.0
BACKOFF_FIRST, BACKOFF_CAP = 0.1, 5.0

_CLAIM = """
DELETE FROM public.job_outbox
WHERE id IN (SELECT id FROM public.job_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, job_id, schema_name, actor, args, created_at
"""


def _message(broker: dramatiq.Broker, row: Any) -> dramatiq.Message[Any]:
    actor = broker.get_actor(row["actor"])
    args = row["args"]
    return dramatiq.Message(
        queue_name=actor.queue_name,
        actor_name=actor.actor_name,
        args=(),
        kwargs={"schema": row["schema_name"], "job_id": str(row["job_id"]),
                "args": args if isinstance(args, dict) else json.loads(args)},
        options={"committed_at": row["created_at"].timestamp()},
        message_id=str(row["job_id"]),
        message_timestamp=int(time.time() * 1000),
    )  # fmt: skip


class _QueuedOn:
    """Dramatiq's ``dispatch`` Lua script, queued on a pipeline instead of run at once."""

    def __init__(self, script: Script, pipe: Pipeline) -> None:
        self.script, self.pipe = script, pipe

    def __call__(self, keys: list[str], args: list[Any]) -> None:
        # EVALSHA only: a Script on a pipeline would add a SCRIPT EXISTS round trip per batch.
        self.pipe.evalsha(self.script.sha, len(keys), *keys, *args)


def pipelined(broker: RedisBroker, messages: list[dramatiq.Message[Any]]) -> Pipeline:
    """``broker.enqueue()`` of every message, queued on one pipeline not yet executed.

    Dramatiq has no batch enqueue; its ``enqueue()`` (Redis message id, encoding, middleware,
    delay queue) runs unchanged on a copy of the broker whose ``dispatch`` script call goes
    to the pipeline: the queue format stays Dramatiq's own."""
    pipe = broker.client.pipeline(transaction=False)
    view = copy.copy(broker)
    view.scripts = {**broker.scripts, "dispatch": _QueuedOn(broker.scripts["dispatch"], pipe)}
    for message in messages:
        view.enqueue(message)
    return pipe


def _send(broker: RedisBroker, messages: list[dramatiq.Message[Any]]) -> None:
    """Enqueue ``messages`` in one Redis round trip (two more after a Redis restart, which
    forgets the script: load it and send again; a partly sent batch only means duplicates)."""
    if not messages:
        return
    for attempt in (1, 2):
        with pipelined(broker, messages) as pipe:
            try:
                pipe.execute()
                return
            except NoScriptError:
                if attempt == 2:
                    raise
        script = broker.scripts["dispatch"]
        script.sha = broker.client.script_load(script.script)


class Relay:
    """Moves committed jobs to Dramatiq; ``start()``/``stop()`` from the owning event loop."""

    def __init__(
        self, database_url: str, *, batch: int = BATCH, coalesce_ms: float | None = None
    ) -> None:
        self.database_url = database_url
        self.batch = batch
        if coalesce_ms is None:
            coalesce_ms = float(os.environ.get("CAREBOOK_RELAY_COALESCE_MS") or COALESCE_MS)
        self.coalesce = coalesce_ms / 1000
        self.sent = 0
        self.rounds = 0  # rounds that sent jobs
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._crash_after_send = os.environ.get("CAREBOOK_RELAY_CRASH_AFTER_SEND") == "1"

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run_forever(), name="carebook-job-relay")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def relay_once(self, conn: asyncpg.Connection) -> int:
        """Claim, send and delete one batch; returns how many jobs went to Dramatiq."""
        from carebook.broker import broker

        async with conn.transaction():
            rows = await conn.fetch(_CLAIM, self.batch)
            if not rows:
                return 0
            messages = []
            for row in rows:
                try:
                    messages.append(_message(broker, row))
                except ActorNotFound:
                    await deadletters.record(
                        row["job_id"], row["schema_name"], row["actor"], {},
                        f"no actor named {row['actor']!r} in this deployment", 0, conn=conn,
                    )  # fmt: skip
            # Redis calls are blocking: keep them off the event loop (an app's requests).
            await asyncio.to_thread(_send, broker, messages)
            if self._crash_after_send:  # fault injection for tests: die before the commit
                os._exit(17)
        self.sent += len(messages)
        self.rounds += 1
        now = time.time()
        metrics.JOBS_RELAYED.inc(len(messages))
        metrics.JOB_RELAY_BATCH.observe(len(rows))
        for row in rows:
            metrics.JOB_RELAY_LAG.observe(max(0.0, now - row["created_at"].timestamp()))
        return len(rows)

    async def _run_forever(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.database_url)
                await conn.add_listener(CHANNEL, self._on_notify)
                while True:
                    rounds = self.rounds
                    while (sent := await self.relay_once(conn)) == self.batch:
                        pass
                    # Only a round that sent jobs resets the back-off: with Redis away,
                    # connecting to PostgreSQL succeeds every time and an empty round (the
                    # rows held by another relay) never touches Redis; neither proves it back.
                    if self.rounds > rounds:
                        delay = BACKOFF_FIRST
                    if sent and self.coalesce > 0:
                        await asyncio.sleep(self.coalesce)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                    self._wake.clear()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Redis or PostgreSQL away: the claimed rows rolled back; try again later.
                log.warning("job relay: %s: %s; retrying in %.1f s", type(exc).__name__, exc,
                            delay)  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_CAP)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))

    def _on_notify(self, *_args: Any) -> None:
        self._wake.set()


def import_actor_modules() -> None:
    """Declare every actor in this process, so the relay can look them up by name: the
    project's (``carebook.actors``) and any listed in ``CAREBOOK_ACTOR_MODULES`` (tests)."""
    import importlib

    import carebook.actors  # noqa: F401

    for name in filter(None, os.environ.get("CAREBOOK_ACTOR_MODULES", "").split(",")):
        importlib.import_module(name.strip())


_relay: Relay | None = None


async def start_relay() -> None:
    """Start this process's relay (app startup hook)."""
    global _relay
    if os.environ.get("CAREBOOK_RELAY", "1") == "0":
        return
    from carebook.settings import direct_database_url

    import_actor_modules()
    url = direct_database_url()  # LISTEN needs a session: never through a transaction pooler
    _relay = Relay(url)
    await _relay.start()


async def stop_relay() -> None:
    global _relay
    relay, _relay = _relay, None
    if relay is not None:
        await relay.stop()
