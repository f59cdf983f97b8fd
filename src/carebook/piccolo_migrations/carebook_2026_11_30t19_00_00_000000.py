"""Platform tables of the job outbox: job_outbox, lifecycle_effects, scheduled_jobs,
dead_letters (raw SQL)."""

from carebook.sqlfiles import platform_migration

ID = "2026-11-30T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "job outbox, lifecycle effects, scheduled jobs, dead letters"

forwards = platform_migration("carebook", ID, DESCRIPTION, "0001_jobs.sql")
