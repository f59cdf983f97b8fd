"""The staff app's controllers (every one guarded by ``access.staff_page_guard``)."""

from __future__ import annotations

from typing import Any

from web.staff.appointment_pages import AppointmentPages
from web.staff.auth_pages import StaffAuthPages
from web.staff.availability_pages import AvailabilityPages
from web.staff.caller_pages import CallerBookingPages
from web.staff.catalog_pages import CatalogPages
from web.staff.pages import StaffPages
from web.staff.settings_pages import SettingsPages

route_handlers: list[Any] = [
    StaffAuthPages,
    StaffPages,
    AppointmentPages,
    AvailabilityPages,
    CallerBookingPages,
    SettingsPages,
    CatalogPages,
]
