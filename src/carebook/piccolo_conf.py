"""Piccolo engine and app registry. The URL comes from the environment (or embedded servers)."""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from carebook.runtime import ensure_services
from carebook.settings import behind_pgbouncer, get_settings

if not os.environ.get("DATABASE_URL"):
    ensure_services(get_settings().data_dir)

# Behind PgBouncer (transaction mode) no named prepared statements: a statement prepared on
# one server connection is unknown on the next (docs/operations.md).
_config: dict[str, object] = {"dsn": os.environ["DATABASE_URL"]}
if behind_pgbouncer():
    _config["statement_cache_size"] = 0
DB = PostgresEngine(config=_config, extensions=())

APP_REGISTRY = AppRegistry(
    apps=[
        "piccolo.apps.user.piccolo_app",
        "piccolo_api.session_auth.piccolo_app",
        "tenants.piccolo_app",
        "calendars.piccolo_app",
        "bookings.piccolo_app",
        "video.piccolo_app",
        "forms.piccolo_app",
        "reviews.piccolo_app",
        "carebook.piccolo_app",
        "notifications.piccolo_app",
        "stats.piccolo_app",
    ]
)
