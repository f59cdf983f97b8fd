"""Jinja set-up for the patient pages: filters the templates share."""

from __future__ import annotations

from jinja2 import pass_context
from jinja2.runtime import Context
from litestar.plugins.jinja import JinjaTemplateEngine

from carebook import i18n
from web.js_messages import js_messages
from web.zones import zone_label


def configure_templates(engine: JinjaTemplateEngine) -> None:
    """``{{ tenant.timezone | zone_label }}`` → ``Central European Time — Berlin``; gettext
    (``{% trans %}``, ``_()``) in the render's language (``carebook.i18n``)."""
    engine.engine.filters["zone_label"] = zone_label
    i18n.install(engine.engine)

    @pass_context
    def page_js_messages(ctx: Context) -> dict[str, object]:
        return js_messages(i18n.context_language(ctx))

    # ``{{ js_messages() | tojson }}``: the scripts' strings in the page's language.
    engine.engine.globals["js_messages"] = page_js_messages
