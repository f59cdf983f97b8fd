"""Platform tables: tenants and platform API tokens (raw SQL: CHECKs and defaults)."""

from importlib import resources

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-25T13:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "platform tables"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="tenants", description=DESCRIPTION)

    async def run() -> None:
        from carebook.piccolo_conf import DB

        sql = resources.files("tenants").joinpath("sql", "platform", "0001_platform.sql")
        await DB.current_transaction.get().connection.execute(sql.read_text())

    manager.add_raw(run)
    return manager
