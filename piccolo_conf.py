"""Piccolo's entry point (for the `piccolo` CLI); the real config is carebook.piccolo_conf."""

from carebook.piccolo_conf import APP_REGISTRY, DB

__all__ = ["APP_REGISTRY", "DB"]
