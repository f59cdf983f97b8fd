"""Message templates: one Jinja file per message with ``subject``, ``text`` and ``html`` blocks.

``templates/<name>.jinja`` defines the three blocks; the HTML body is wrapped in
``templates/_layout.html`` (clinic name and contact details in the footer). Strings are
wrapped in ``{% trans %}`` and translated into the variable ``lang`` (``carebook.i18n``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from carebook import i18n
from carebook.tenancy import Tenant

_BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*)+\n")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("notifications", "templates"),
        autoescape=select_autoescape(["html", "jinja"]),
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    i18n.install(env)
    return env


def clinic_context(tenant: Tenant) -> dict[str, Any]:
    s = tenant.settings
    return {
        "name": tenant.name,
        "address": s.address,
        "phone": s.phone,
        "email": s.email,
        "website": s.website,
    }


def render(name: str, lang: str, tenant: Tenant, **values: Any) -> Rendered:
    env = environment()
    template = env.get_template(f"{name}.jinja")
    context = {"lang": lang, "clinic": clinic_context(tenant), **values}
    ctx = template.new_context(context)
    subject = " ".join("".join(template.blocks["subject"](ctx)).split())
    text = _BLANK_RUNS.sub("\n\n", "".join(template.blocks["text"](ctx)).strip()) + "\n"
    body = Markup("".join(template.blocks["html"](ctx)))  # noqa: S704 - autoescaped above
    html = env.get_template("_layout.html").render(context, subject=subject, body=body)
    return Rendered(subject, text, html)


def render_sms(name: str, lang: str, tenant: Tenant, **values: Any) -> str:
    """A one-paragraph SMS text (``templates/sms_<name>.jinja``, block ``text``)."""
    template = environment().get_template(f"sms_{name}.jinja")
    ctx = template.new_context({"lang": lang, "clinic": clinic_context(tenant), **values})
    return " ".join("".join(template.blocks["text"](ctx)).split())
