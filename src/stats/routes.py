"""HTTP routes of the statistics domain."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from calendars.routes import STAFF_PATH
from carebook.openapi import INVALID, problems
from carebook.tenancy import Tenant, tenant_tx
from stats import service
from stats.schemas import StatisticsOut
from tenants.guards import STAFF, StaffPrincipal


class StatisticsController(Controller):
    path = f"{STAFF_PATH}/statistics"
    tags = ["statistics"]
    dependencies = STAFF

    @get(
        "/",
        summary="Statistics of the clinic, a specialist or a calendar over local days",
        description="Booked, completed, cancelled and no-show counts (by the clinic-local day "
        "of the start), their rates, the average rating and utilisation (booked ÷ offered "
        "minutes, offered per the availability engine). `group_by` adds one entry per "
        "specialist or calendar. Specialists see only their own figures: any other "
        "`specialist_id`, existing or not, is 403 `not_your_statistics` (counts, no patient "
        "data; the same answer for every id, so it tells no specialist's existence).",
        responses=problems(
            s403="not_your_statistics (a specialist: another or an unknown `specialist_id`, or "
            "no specialist linked to the account)",
            s422=f"invalid_range, {INVALID}",
        ),
    )
    async def show(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        start: Annotated[
            date | None,
            QueryParameter(name="from", description="First local day (default: to - 29 days)"),
        ] = None,
        end: Annotated[
            date | None,
            QueryParameter(name="to", description="Last local day, included (default: today)"),
        ] = None,
        specialist_id: FromQuery[UUID | None] = None,
        calendar_id: FromQuery[UUID | None] = None,
        group_by: FromQuery[Literal["specialist", "calendar"] | None] = None,
    ) -> StatisticsOut:
        end = end or datetime.now(ZoneInfo(staff_tenant.timezone)).date()
        start = start or end - timedelta(days=29)
        async with tenant_tx(staff_tenant) as conn:
            specialist_id = await service.visible_specialist(conn, staff, specialist_id)
            return await service.statistics(
                conn, staff_tenant.timezone, start, end, specialist_id, calendar_id, group_by
            )


route_handlers: list[Any] = [StatisticsController]
