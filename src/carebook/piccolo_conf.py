"""Piccolo engine and app registry. The URL comes from the environment (or embedded servers)."""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from carebook.runtime import ensure_services
from carebook.settings import get_settings

if not os.environ.get("DATABASE_URL"):
    ensure_services(get_settings().data_dir)

DB = PostgresEngine(config={"dsn": os.environ["DATABASE_URL"]}, extensions=())

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
