"""The test suite's own embedded cluster trades durability for speed; nothing else does."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import DATABASE_URL, EMBEDDED


@pytest.mark.skipif(not EMBEDDED, reason="a server of the machine: its settings, not ours")
async def test_the_test_cluster_does_not_flush_to_disk() -> None:
    """DROP DATABASE forces a checkpoint; with fsync on, the first one of a run flushes each
    of ~100,000 files and CI ran out of time waiting (carebook.runtime.ensure_postgres)."""
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        settings = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in ("fsync", "full_page_writes", "synchronous_commit")
        }
    finally:
        await conn.close()
    assert settings == {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
