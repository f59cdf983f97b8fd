"""Piccolo app for tenants: platform tables (Piccolo migrations) and clinic staff tables."""

import os

from piccolo.conf.apps import AppConfig

from tenants.tables import PlatformApiToken, StaffApiToken, StaffSession, StaffUser, Tenant

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="tenants",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Tenant, PlatformApiToken, StaffUser, StaffApiToken, StaffSession],
    migration_dependencies=["piccolo.apps.user.piccolo_app"],
    commands=[],
)
