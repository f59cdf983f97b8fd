"""Platform tables of the job outbox: job_outbox, lifecycle_effects, scheduled_jobs,
dead_letters (raw SQL)."""

from importlib import resources

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "job outbox, lifecycle effects, scheduled jobs, dead letters"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="carebook", description=DESCRIPTION)

    async def run() -> None:
        from carebook.piccolo_conf import DB

        sql = resources.files("carebook").joinpath("sql", "platform", "0001_jobs.sql")
        await DB.current_transaction.get().connection.execute(sql.read_text())

    manager.add_raw(run)
    return manager
