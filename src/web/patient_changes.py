"""Cancel and reschedule from the patient's manage page (issue 11).

Cancel is a plain form (it works without JavaScript): the manage token travels in the query
string as on the page itself, and it is the capability, so no other CSRF token is needed;
POST-redirect-GET back to the manage page with an outcome. Reschedule is a page with the
booking page's live slot picker (``static/booking/reschedule.js``) that calls the public
reschedule API with the token in ``X-Manage-Token``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from bookings import patient_actions
from carebook import i18n
from carebook.errors import CarebookError
from carebook.tenancy import Tenant
from tenants.guards import provide_public_tenant
from web import reads
from web.display import zone_or
from web.errors import HTML_EXCEPTION_HANDLERS, PAGE_HEADERS
from web.routes import PRIVATE_HEADERS, manage_path
from web.zones import zone_label, zone_table

CHANGEABLE = ("booked", "upcoming", "confirmed")
CANCEL_REASONS = ("I cannot make it at this time", "I feel better", "I booked by mistake",
                  "Another reason")  # fmt: skip
CHANGE_MESSAGES = {
    "cancelled": (True, "Your appointment is cancelled. The time is free for others again."),
    "moved": (True, "Your appointment has been moved. We have sent you the new time."),
    "reason_required": (False, "Please say why you cancel."),
    "cancellation_cutoff_passed": (False, "It is too late to change this appointment online; "
                                          "please contact the clinic."),
    "version_conflict": (False, "The appointment changed meanwhile; here is how it is now."),
    "invalid_transition": (False, "This appointment cannot be cancelled any more."),
}  # fmt: skip


def changes_for(tenant: Tenant, appt: reads.PatientAppointment, token: str) -> dict[str, Any]:
    """The cancel/reschedule block of the manage page."""
    cutoff = appt.starts_at - timedelta(hours=tenant.settings.cancellation_cutoff_hours)
    path, _, query = manage_path(tenant, appt.id, token).partition("?")
    return {
        "changeable": appt.status in CHANGEABLE,
        "open": appt.status in CHANGEABLE and datetime.now(UTC) <= cutoff,
        "cutoff_hours": tenant.settings.cancellation_cutoff_hours,
        "cancel_url": f"{path}/cancel?{query}",
        "reschedule_url": f"{path}/reschedule?{query}",
        "reasons": CANCEL_REASONS,
    }


class PatientChangePages(Controller):
    path = "/c/{clinic:str}/manage/{appointment_id:str}"
    include_in_schema = False
    exception_handlers = HTML_EXCEPTION_HANDLERS
    response_headers = [
        ResponseHeader(name=k, value=v) for k, v in {**PAGE_HEADERS, **PRIVATE_HEADERS}.items()
    ]

    @post("/cancel", name="web:cancel", status_code=303)
    async def cancel(
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
        reason = (form.get("reason") or "").strip()
        detail = (form.get("detail") or "").strip()[:400]
        if reason not in CANCEL_REASONS:
            return Redirect(f"{back}&change=reason_required#changes", status_code=303)
        text = f"{reason}: {detail}" if detail else reason
        try:
            version = int(form.get("version") or appt.version)
            await patient_actions.cancel(tenant, appt.id, token, version, text)
        except (ValueError, CarebookError) as exc:
            code = exc.code if isinstance(exc, CarebookError) else "version_conflict"
            return Redirect(f"{back}&change={code}#changes", status_code=303)
        return Redirect(f"{back}&change=cancelled#changes", status_code=303)

    @get("/reschedule", name="web:reschedule")
    async def reschedule_page(
        self,
        request: Request[Any, Any, Any],
        clinic: FromPath[str],
        appointment_id: FromPath[str],
        token: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        tenant = await provide_public_tenant(clinic)
        appt = await reads.appointment_for_patient(tenant, appointment_id, token)
        back = manage_path(tenant, appt.id, token or "")
        if not changes_for(tenant, appt, token or "")["open"]:
            return Redirect(f"{back}&change=cancellation_cutoff_passed#changes", status_code=303)
        zone = zone_or(appt.patient_timezone, tenant.timezone)
        lang = i18n.request_language(request, tenant.settings.default_language)
        config = {
            "api": f"/api/v1/clinics/{tenant.slug}/public",
            "calendarId": str(appt.calendar_id),
            "appointmentId": str(appt.id),
            "version": appt.version,
            "token": token,
            "zone": zone.key,
            "zoneNames": zone_table(lang),
            "back": back,
            "currentStart": appt.starts_at.astimezone(UTC).isoformat(),
        }
        return Template(
            "reschedule.html",
            context={
                "tenant": tenant,
                "appt": appt,
                "config": config,
                "zone": zone_label(zone.key, lang),
                "back": back,
                "page_title": f"Change your appointment – {tenant.name}",
            },
        )


def change_message(code: str | None) -> dict[str, Any] | None:
    if code not in CHANGE_MESSAGES:
        return None
    ok, text = CHANGE_MESSAGES[code]
    return {"ok": ok, "text": text}


route_handlers: list[Any] = [PatientChangePages]
