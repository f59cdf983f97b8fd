"""The patient's review on the manage page: 1-5 stars and an optional comment, once."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from carebook.errors import Conflict
from carebook.tenancy import Tenant
from reviews import service
from reviews.schemas import ReviewIn
from tenants.guards import provide_public_tenant
from web import reads
from web.errors import HTML_EXCEPTION_HANDLERS, PAGE_HEADERS
from web.routes import PRIVATE_HEADERS, manage_path

RATING_WORDS = {1: "Very poor", 2: "Poor", 3: "Average", 4: "Good", 5: "Excellent"}


def review_path(tenant: Tenant, appointment_id: Any, token: str) -> str:
    path, _, query = manage_path(tenant, appointment_id, token).partition("?")
    return f"{path}/review?{query}"


async def manage_review(
    tenant: Tenant, appt: reads.PatientAppointment, token: str
) -> dict[str, Any] | None:
    """The review section of the manage page (None before the appointment is done)."""
    if appt.status != "done":
        return None
    review = await service.review_for_patient(tenant, appt.id, token)
    return {
        "review": review,
        "words": RATING_WORDS,
        "action_url": review_path(tenant, appt.id, token),
    }


class PatientReviewPage(Controller):
    path = "/c/{clinic:str}/manage/{appointment_id:str}/review"
    include_in_schema = False
    exception_handlers = HTML_EXCEPTION_HANDLERS
    response_headers = [
        ResponseHeader(name=k, value=v) for k, v in {**PAGE_HEADERS, **PRIVATE_HEADERS}.items()
    ]

    @post("/", name="web:review", status_code=303)
    async def create(
        self,
        request: Request[Any, Any, Any],
        clinic: FromPath[str],
        appointment_id: FromPath[str],
        token: FromQuery[str | None] = None,
    ) -> Redirect:
        tenant = await provide_public_tenant(clinic)
        appt = await reads.appointment_for_patient(tenant, appointment_id, token)
        form = await request.form()
        back = manage_path(tenant, appt.id, token or "")
        rating = form.get("rating", "")
        comment = (form.get("comment") or "").strip()
        if rating not in {"1", "2", "3", "4", "5"}:
            return Redirect(f"{back}&review=rating_missing#review", status_code=303)
        if len(comment) > 2000:
            return Redirect(f"{back}&review=comment_too_long#review", status_code=303)
        try:
            await service.submit(tenant, appt.id, token, ReviewIn(int(rating), comment or None))
        except Conflict as exc:
            return Redirect(f"{back}&review={exc.code}#review", status_code=303)
        return Redirect(f"{back}&review=thanks#review", status_code=303)


route_handlers: list[Any] = [PatientReviewPage]
