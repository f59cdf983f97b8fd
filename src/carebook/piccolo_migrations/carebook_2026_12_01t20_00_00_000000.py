"""Conditions on lifecycle effects: ``lifecycle_effects.only_if`` (raw SQL)."""

from importlib import resources

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "lifecycle effects may name a condition"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="carebook", description=DESCRIPTION)

    async def run() -> None:
        from carebook.piccolo_conf import DB

        sql = resources.files("carebook").joinpath("sql", "platform", "0002_effect_conditions.sql")
        await DB.current_transaction.get().connection.execute(sql.read_text())

    manager.add_raw(run)
    return manager
