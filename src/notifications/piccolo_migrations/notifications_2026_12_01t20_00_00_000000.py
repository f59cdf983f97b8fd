"""The webhooks actor's condition: a clinic with an active endpoint (raw SQL)."""

from carebook.sqlfiles import platform_migration

ID = "2026-12-01T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "webhooks actor only for clinics with an active endpoint"

forwards = platform_migration("notifications", ID, DESCRIPTION, "0002_webhooks_condition.sql")
