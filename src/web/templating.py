"""Jinja set-up for the patient pages: filters the templates share."""

from __future__ import annotations

from litestar.plugins.jinja import JinjaTemplateEngine

from carebook import i18n
from web.zones import zone_label


def configure_templates(engine: JinjaTemplateEngine) -> None:
    """``{{ tenant.timezone | zone_label }}`` → ``Central European Time — Berlin``; gettext
    (``{% trans %}``, ``_()``) in the render's language (``carebook.i18n``)."""
    engine.engine.filters["zone_label"] = zone_label
    i18n.install(engine.engine)
