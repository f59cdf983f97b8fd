"""Demo data of the calendars domain: specialists, a service and two calendars."""

from __future__ import annotations

from carebook.tenancy import Tenant


async def seed_demo(tenant: Tenant) -> list[str]:
    """Create the demo specialists, service and calendars if missing; return calendar slugs."""
    return []
