"""Platform tables: tenants and platform API tokens (raw SQL: CHECKs and defaults)."""

from carebook.sqlfiles import platform_migration

ID = "2026-11-25T13:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "platform tables"

forwards = platform_migration("tenants", ID, DESCRIPTION, "0001_platform.sql")
