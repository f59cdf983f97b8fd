"""The webhooks actor's condition: a clinic with an active endpoint (raw SQL)."""

from importlib import resources

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "webhooks actor only for clinics with an active endpoint"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    async def run() -> None:
        from carebook.piccolo_conf import DB

        sql = resources.files("notifications").joinpath(
            "sql", "platform", "0002_webhooks_condition.sql"
        )
        await DB.current_transaction.get().connection.execute(sql.read_text())

    manager.add_raw(run)
    return manager
