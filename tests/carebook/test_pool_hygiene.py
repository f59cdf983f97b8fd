"""Pooled connections never carry session state (the pool skips asyncpg's reset query).

carebook.pools starts its pools with a no-op ``reset``; that is only sound while every request
leaves its connection as it found it. The first test checks the connections themselves after
holds, bookings and a failed hold; the second keeps session-level state out of the code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import httpx

from carebook import pools
from tests.bookings.support import bookable, booking_body, idem, place_hold, slot
from tests.conftest import Clinic
from tests.helpers import every_connection

SRC = Path(__file__).resolve().parents[2] / "src"
# The only modules allowed session-level state: each uses a dedicated connection.
DEDICATED = {"carebook/events/hub.py", "carebook/events/retention.py", "carebook/migrations.py",
             "carebook/jobs/relay.py", "carebook/jobs/scheduler.py"}  # fmt: skip


async def test_connections_come_back_clean(
    client: httpx.AsyncClient, clinic: Clinic, no_sweeper: None
) -> None:
    from carebook.piccolo_conf import DB

    setup = await bookable(clinic.tenant)
    for hour in (9, 10, 11):
        hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant, hour=hour))
        r = await client.post(f"{clinic.public}/bookings", json=booking_body(hold),
                              headers=idem())  # fmt: skip
        assert r.status_code == 201, r.text
    taken = {"calendar_id": str(setup.calendar_id), "start": slot(clinic.tenant).isoformat()}
    assert (await client.post(f"{clinic.public}/holds", json=taken)).status_code == 409

    # Every pool of the app: tenant transactions run in the clinic groups' pools.
    app_pools = list(pools.app_pools())
    assert DB.pool in app_pools
    if pools._groups is not None:
        home = pools._groups.home(clinic.tenant.schema)
        assert any(p is home for p in app_pools) and home.get_size() > 0
    default_path = await DB.pool.fetchval("SELECT reset_val FROM pg_settings "
                                          "WHERE name = 'search_path'")  # fmt: skip
    for pool in app_pools:
        async with every_connection(pool) as conns:
            for conn in conns:
                assert not conn.is_in_transaction()
                assert await conn.fetchval("SHOW search_path") == default_path
                locks = await conn.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid()"
                )
                assert locks == 0
                assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0


def test_no_session_state_outside_dedicated_connections() -> None:
    session_state = re.compile(
        r"pg_(try_)?advisory_lock(_shared)?\(|\bLISTEN\b|add_listener|"
        r"set_config\([^)]*,\s*false\s*\)|"
        r"[\"';(]\s*SET\s+(?!LOCAL\b)",  # a SET command, not UPDATE … SET
        re.IGNORECASE,
    )
    offenders = []
    for path in sorted(SRC.rglob("*")):
        if path.suffix not in (".py", ".sql") or "sql/tenant" in path.as_posix():
            continue  # migrations run in their own transaction on a dedicated connection
        rel = path.relative_to(SRC).as_posix()
        if rel in DEDICATED:
            continue
        for text in _code_strings(path):
            if match := session_state.search(text):
                offenders.append(f"{rel}: {match.group(0)!r} in {text.strip()[:80]!r}")
    assert offenders == []


def _code_strings(path: Path) -> list[str]:
    """SQL a file can send: a .sql file without comments, or a module's non-docstring strings."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".sql":
        return [re.sub(r"--[^\n]*", "", text)]
    tree = ast.parse(text)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]
