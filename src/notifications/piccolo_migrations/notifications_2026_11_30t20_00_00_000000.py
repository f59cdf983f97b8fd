"""Lifecycle effects of the notifications domain: the webhooks actor (raw SQL)."""

from carebook.sqlfiles import platform_migration

ID = "2026-11-30T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "webhooks actor on every lifecycle event"

forwards = platform_migration("notifications", ID, DESCRIPTION, "0001_webhooks.sql")
