"""The demo seed is idempotent and gives bookable calendars."""

from __future__ import annotations

from calendars.demo import seed_demo
from carebook.tenancy import tenant_tx


async def test_seed_demo_twice(client, clinic):
    assert await seed_demo(clinic.tenant) == ["mobility-evaluation", "mobility-promo"]
    assert await seed_demo(clinic.tenant) == ["mobility-evaluation", "mobility-promo"]
    async with tenant_tx(clinic.tenant) as conn:
        counts = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM specialists) AS s, (SELECT count(*) FROM services) AS v,
                      (SELECT count(*) FROM calendars) AS c,
                      (SELECT count(*) FROM calendar_specialists) AS cs"""
        )
    assert dict(counts) == {"s": 3, "v": 1, "c": 2, "cs": 5}
    catalog = (await client.get(f"{clinic.public}/catalog")).json()
    cals = {c["slug"]: c for c in catalog["services"][0]["calendars"]}
    assert cals["mobility-evaluation"]["price_minor"] == 8000
    assert cals["mobility-promo"]["kind"] == "promotional"
    assert len(cals["mobility-promo"]["specialists"]) == 2
