"""Hand-written SQL lives in ``<package>/sql/*.sql`` and is loaded by name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from importlib import resources
from typing import Any


@cache
def sql(package: str, name: str) -> str:
    """The text of ``<package>/sql/<name>`` (e.g. ``sql("calendars", "slots.sql")``)."""
    return resources.files(package).joinpath("sql", name).read_text(encoding="utf-8")


def platform_migration(
    app_name: str, migration_id: str, description: str, name: str
) -> Callable[[], Awaitable[Any]]:
    """``forwards`` of a Piccolo migration of the app (a package of the same name) that runs
    ``<app_name>/sql/platform/<name>`` (raw SQL: the platform tables' CHECKs, defaults and
    seed rows) in Piccolo's transaction."""

    async def forwards() -> Any:
        from piccolo.apps.migrations.auto.migration_manager import MigrationManager

        manager = MigrationManager(
            migration_id=migration_id, app_name=app_name, description=description
        )

        async def run() -> None:
            from carebook.piccolo_conf import DB

            transaction = DB.current_transaction.get()
            if transaction is None:  # Piccolo runs every migration in a transaction
                raise RuntimeError(f"{migration_id} ran outside a transaction")
            await transaction.connection.execute(sql(app_name, f"platform/{name}"))

        manager.add_raw(run)
        return manager

    return forwards
