"""Platform table public.hold_expiries: the sweeper's hint of due holds (raw SQL)."""

from carebook.sqlfiles import platform_migration

ID = "2026-11-25T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "hold expiry hints"

forwards = platform_migration("bookings", ID, DESCRIPTION, "0001_hold_expiries.sql")
