"""Message templates: one Jinja file per message with ``subject``, ``text`` and ``html`` blocks.

``templates/<name>.jinja`` defines the three blocks; the HTML body is wrapped in
``templates/_layout.html`` (clinic name and contact details in the footer; the clinic's
logo, when it has one, as an inline image ``cid:`` reference, and its accent colour). Strings are
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


LOGO_CID = "clinic-logo@carebook"
DEFAULT_ACCENT = "#1f5fbf"


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML shows through ``cid:<cid>`` (sent as a multipart/related part)."""

    cid: str
    content_type: str
    content: bytes
    filename: str


@dataclass(frozen=True)
class Branding:
    """A clinic's look in messages: its logo (if uploaded) and accent colour."""

    logo: InlineImage | None = None
    accent: str = DEFAULT_ACCENT


async def branding(tenant: Tenant) -> Branding:
    """The clinic's logo and accent colour (staff branding settings)."""
    from tenants import clinic_settings

    found = await clinic_settings.logo(tenant)
    logo = None
    if found is not None:
        data, content_type = found
        ext = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(content_type)
        logo = InlineImage(LOGO_CID, content_type, data, f"logo.{ext or 'img'}")
    return Branding(logo, tenant.settings.accent_colour or DEFAULT_ACCENT)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    images: tuple[InlineImage, ...] = ()


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


def render(
    name: str, lang: str, tenant: Tenant, *, brand: Branding | None = None, **values: Any
) -> Rendered:
    """Subject, text and HTML of message ``name`` in ``lang``; with ``brand``'s logo (an
    inline image of the result) and accent colour."""
    brand = brand or Branding()
    env = environment()
    template = env.get_template(f"{name}.jinja")
    context = {
        "lang": lang, "clinic": clinic_context(tenant), "accent": brand.accent,
        "logo_cid": brand.logo.cid if brand.logo else None, **values,
    }  # fmt: skip
    ctx = template.new_context(context)
    subject = " ".join("".join(template.blocks["subject"](ctx)).split())
    text = _BLANK_RUNS.sub("\n\n", "".join(template.blocks["text"](ctx)).strip()) + "\n"
    body = Markup("".join(template.blocks["html"](ctx)))  # noqa: S704 - autoescaped above
    html = env.get_template("_layout.html").render(context, subject=subject, body=body)
    return Rendered(subject, text, html, (brand.logo,) if brand.logo else ())


def render_sms(name: str, lang: str, tenant: Tenant, **values: Any) -> str:
    """A one-paragraph SMS text (``templates/sms_<name>.jinja``, block ``text``)."""
    template = environment().get_template(f"sms_{name}.jinja")
    ctx = template.new_context({"lang": lang, "clinic": clinic_context(tenant), **values})
    return " ".join("".join(template.blocks["text"](ctx)).split())
