"""The race: many concurrent holds for one slot over real HTTP → exactly one winner.

Each round sends 100 requests at once through a pool of 100 connections to a real uvicorn
process; every answer must be 201 or 409 (never a 5xx), with exactly one 201 per round.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.bookings.support import Setup, bookable, hold_body, slot
from tests.conftest import Clinic, LiveServer
from tests.factories import add_calendar, add_specialist

CONTENDERS = 100
ROUNDS = 20


def _client(server: LiveServer) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=CONTENDERS, max_keepalive_connections=CONTENDERS)
    return httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60)


async def _storm(server: LiveServer, public: str, bodies: list[dict[str, Any]]) -> Counter[int]:
    # A fresh pool per round: an idle keep-alive connection closed by the server between
    # rounds would otherwise surface as a transport error that says nothing about holds.
    async with _client(server) as http:
        responses = await asyncio.gather(*(http.post(f"{public}/holds", json=b) for b in bodies))
    statuses = Counter(r.status_code for r in responses)
    for r in responses:
        if r.status_code == 409:
            assert r.json()["code"] == "slot_unavailable", r.text
    return statuses


def _round_start(setup: Setup, n: int) -> datetime:
    # 16 half-hour slots a day (09:00-16:30): a fresh slot for every round.
    return slot(setup.tenant, days=1 + n // 16, hour=9 + (n % 16) // 2, minute=30 * (n % 2))


@pytest.mark.slow
async def test_hundred_contenders_one_slot(live_server: LiveServer, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    for n in range(ROUNDS):
        body = hold_body(setup, _round_start(setup, n))
        statuses = await _storm(live_server, clinic.public, [body] * CONTENDERS)
        assert statuses == Counter({201: 1, 409: CONTENDERS - 1}), (n, statuses)


@pytest.mark.slow
async def test_two_calendars_one_specialist_overlapping_slots(
    live_server: LiveServer, clinic: Clinic
) -> None:
    # Calendar A: 60-minute slots on the hour; calendar B: 30-minute slots every 30 minutes.
    # A@10:00 and B@10:30 are different slots that overlap in the one specialist's day.
    setup = await bookable(clinic.tenant, duration=60)
    other = await add_calendar(clinic.tenant, [setup.specialist_id], duration=30, slug=None)
    b_setup = Setup(clinic.tenant, setup.specialist_id, other["id"], other)
    for n in range(ROUNDS):
        day, hour = 1 + n // 7, 9 + n % 7
        a = hold_body(setup, slot(clinic.tenant, days=day, hour=hour))
        b = hold_body(b_setup, slot(clinic.tenant, days=day, hour=hour, minute=30))
        statuses = await _storm(live_server, clinic.public, [a, b] * (CONTENDERS // 2))
        assert statuses == Counter({201: 1, 409: CONTENDERS - 1}), (n, statuses)


@pytest.mark.slow
async def test_buffers_make_adjacent_slots_collide(live_server: LiveServer, clinic: Clinic) -> None:
    # Buffer 15 min: a hold at 10:00 blocks [10:00, 10:45), so 10:30 cannot be held with it.
    setup = await bookable(clinic.tenant, buffer=15)
    for n in range(ROUNDS):
        day, hour = 1 + n // 7, 9 + n % 7
        first = hold_body(setup, slot(clinic.tenant, days=day, hour=hour))
        second = hold_body(setup, slot(clinic.tenant, days=day, hour=hour, minute=30))
        statuses = await _storm(live_server, clinic.public, [first, second] * (CONTENDERS // 2))
        assert statuses == Counter({201: 1, 409: CONTENDERS - 1}), (n, statuses)


async def test_one_round_quick(live_server: LiveServer, clinic: Clinic) -> None:
    """The race's first round, kept out of the slow marker so every quick run has it."""
    setup = await bookable(clinic.tenant)
    statuses = await _storm(
        live_server, clinic.public, [hold_body(setup, slot(clinic.tenant))] * CONTENDERS
    )
    assert statuses == Counter({201: 1, 409: CONTENDERS - 1})


async def test_auto_pick_gives_each_free_specialist_once(
    live_server: LiveServer, clinic: Clinic
) -> None:
    specialists = 3
    sids = [await add_specialist(clinic.tenant, name=f"Dr {i}") for i in range(specialists)]
    cal = await add_calendar(clinic.tenant, sids)
    setup = Setup(clinic.tenant, sids[0], cal["id"], cal)
    body = hold_body(setup, slot(clinic.tenant, hour=11))
    async with _client(live_server) as http:
        responses = await asyncio.gather(
            *(http.post(f"{clinic.public}/holds", json=body) for _ in range(CONTENDERS))
        )
    won = [r.json()["specialist_id"] for r in responses if r.status_code == 201]
    assert Counter(r.status_code for r in responses) == Counter(
        {201: specialists, 409: CONTENDERS - specialists}
    )
    assert sorted(won) == sorted(str(s) for s in sids)
