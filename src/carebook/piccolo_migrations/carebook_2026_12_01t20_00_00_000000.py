"""Conditions on lifecycle effects: ``lifecycle_effects.only_if`` (raw SQL)."""

from carebook.sqlfiles import platform_migration

ID = "2026-12-01T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "lifecycle effects may name a condition"

forwards = platform_migration("carebook", ID, DESCRIPTION, "0002_effect_conditions.sql")
