"""HTTP routes of the reviews domain: the patient's review, staff lists and alerts."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody

from calendars.routes import PUBLIC_PATH, STAFF_PATH
from carebook.errors import NotFound
from carebook.openapi import INVALID, RATE_LIMITED, problems
from carebook.ratelimit import limit
from carebook.tenancy import Tenant, tenant_tx
from reviews import service
from reviews.schemas import AcknowledgeIn, AlertOut, ReviewIn, ReviewOut
from tenants.guards import PUBLIC, STAFF, StaffPrincipal

ManageToken = Annotated[
    str | None,
    HeaderParameter(name="X-Manage-Token", required=False, description="The manage link token"),
]


class PatientReviewController(Controller):
    path = f"{PUBLIC_PATH}/appointments/{{appointment_id:uuid}}/review"
    tags = ["reviews"]
    dependencies = PUBLIC

    @get("/", summary="My review of this appointment",
         responses=problems(s404="appointment_not_found, review_not_found",
                            s429=RATE_LIMITED))  # fmt: skip
    async def show(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        appointment_id: FromPath[UUID],
        token: ManageToken,
    ) -> ReviewOut:
        await limit(request, tenant.slug, "read")
        review = await service.review_for_patient(tenant, appointment_id, token)
        if review is None:
            raise NotFound("Not reviewed yet.", code="review_not_found")
        return review

    @post("/", status_code=201, summary="Rate the appointment 1-5 (once, after it took place)",
          responses=problems(s404="appointment_not_found",
                             s409="review_not_open, already_reviewed", s422=INVALID,
                             s429=RATE_LIMITED))  # fmt: skip
    async def create(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        appointment_id: FromPath[UUID],
        data: JSONBody[ReviewIn],
        token: ManageToken,
    ) -> Response[ReviewOut]:
        await limit(request, tenant.slug, "booking")
        review = await service.submit(tenant, appointment_id, token, data)
        return Response(review, status_code=201)


class StaffReviewsController(Controller):
    path = STAFF_PATH
    tags = ["reviews"]
    dependencies = STAFF

    @get("/reviews", summary="Recent reviews (admins, receptionists: all; specialists: their own)",
         description="A specialist sees only the reviews of the specialist linked to their "
         "account (another's `specialist_id` lists nothing).")  # fmt: skip
    async def index(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        specialist_id: FromQuery[UUID | None] = None,
    ) -> list[ReviewOut]:
        async with tenant_tx(staff_tenant) as conn:
            return await service.list_reviews(conn, specialist_id, scope=staff.appointment_scope)

    @get("/review-alerts", summary="Low-rating alerts (clinic admins); ?all=true for history")
    async def alerts(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        all: FromQuery[bool] = False,
    ) -> list[AlertOut]:
        async with tenant_tx(staff_tenant) as conn:
            return await service.list_alerts(conn, only_open=not all)

    @post("/review-alerts/{alert_id:uuid}/acknowledge", status_code=200,
          summary="Acknowledge an alert (who, when and a note are recorded)",
          responses=problems(s404="alert_not_found", s409="alert_acknowledged"))  # fmt: skip
    async def acknowledge(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        alert_id: FromPath[UUID],
        data: JSONBody[AcknowledgeIn],
    ) -> AlertOut:
        async with tenant_tx(staff_tenant) as conn:
            return await service.acknowledge(conn, alert_id, clinic_admin.id, data.note)


route_handlers: list[Any] = [PatientReviewController, StaffReviewsController]
