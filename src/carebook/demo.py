"""The demo clinic that `carebook run` creates on first start (and reuses afterwards)."""

from __future__ import annotations

from dataclasses import dataclass, field

from carebook.errors import TenantNotFound
from carebook.platform_users import create_platform_admin
from carebook.tenancy import tenant_tx
from tenants import service, staff

DEMO_SLUG = "demo"
DEMO_TZ = "Europe/Berlin"
PLATFORM_ADMIN = ("admin", "admin@carebook.test", "carebook-demo")
CLINIC_ADMIN = ("admin@demo.carebook.test", "carebook-demo")
RECEPTIONIST = ("reception@demo.carebook.test", "carebook-demo")


@dataclass
class DemoInfo:
    slug: str
    created: bool
    calendars: list[str] = field(default_factory=list)


async def ensure_demo() -> DemoInfo:
    await create_platform_admin(*PLATFORM_ADMIN)
    created = False
    try:
        tenant = await service.find_tenant(DEMO_SLUG)
    except TenantNotFound:
        await service.onboard_clinic(
            slug=DEMO_SLUG,
            name="Demo Physio Clinic",
            timezone=DEMO_TZ,
            admin_email=CLINIC_ADMIN[0],
            admin_name="Dana Admin",
        )
        tenant = await service.find_tenant(DEMO_SLUG)
        async with tenant_tx(tenant) as conn:
            await staff.set_password(conn, *CLINIC_ADMIN)
        created = True
    async with tenant_tx(tenant) as conn:
        if not await conn.fetchval(
            "SELECT 1 FROM staff_users WHERE lower(email) = $1", RECEPTIONIST[0]
        ):
            await staff.create_staff_user(
                conn,
                email=RECEPTIONIST[0],
                name="Rita Reception",
                role="receptionist",
                password=RECEPTIONIST[1],
            )
    from calendars.demo import seed_demo

    return DemoInfo(DEMO_SLUG, created, await seed_demo(tenant))


def print_banner(info: DemoInfo, base_url: str) -> None:
    lines = [
        "",
        "Carebook is running" + (" (demo clinic created)" if info.created else ""),
        f"  Booking page     {base_url}/c/{info.slug}",
        *[f"  Book directly    {base_url}/c/{info.slug}/book/{c}" for c in info.calendars],
        f"  Platform admin   {base_url}/admin/   user {PLATFORM_ADMIN[0]} / {PLATFORM_ADMIN[2]}",
        f"  Clinic staff API {base_url}/api/v1/clinics/{info.slug}/auth/login"
        f"   {CLINIC_ADMIN[0]} / {CLINIC_ADMIN[1]}",
        f"  Clinic staff app {base_url}/c/{info.slug}/staff/   {CLINIC_ADMIN[0]} or "
        f"{RECEPTIONIST[0]} / {RECEPTIONIST[1]}",
        f"  API docs         {base_url}/schema",
        "",
    ]
    print("\n".join(lines), flush=True)
