"""Platform table public.hold_expiries: the sweeper's hint of due holds (raw SQL)."""

from importlib import resources

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-25T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "hold expiry hints"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="bookings", description=DESCRIPTION)

    async def run() -> None:
        from carebook.piccolo_conf import DB

        sql = resources.files("bookings").joinpath("sql", "platform", "0001_hold_expiries.sql")
        await DB.current_transaction.get().connection.execute(sql.read_text())

    manager.add_raw(run)
    return manager
