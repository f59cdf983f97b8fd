"""Contact details the old staff settings form stored under ``contact_*`` keys, moved to the
keys pages, messages and the .ics read (``tenants.legacy_contact``)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "move contact_* settings keys to email/phone/address"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="tenants", description=DESCRIPTION)

    async def run() -> None:
        from carebook.piccolo_conf import DB
        from tenants import legacy_contact

        await legacy_contact.migrate(DB.current_transaction.get().connection)

    manager.add_raw(run)
    return manager
