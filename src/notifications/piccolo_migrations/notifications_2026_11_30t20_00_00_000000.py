"""Lifecycle effects of the notifications domain: the webhooks actor (raw SQL)."""

from importlib import resources

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "webhooks actor on every lifecycle event"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    async def run() -> None:
        from carebook.piccolo_conf import DB

        sql = resources.files("notifications").joinpath("sql", "platform", "0001_webhooks.sql")
        await DB.current_transaction.get().connection.execute(sql.read_text())

    manager.add_raw(run)
    return manager
