"""Languages: gettext catalogs (Babel) for pages and messages, and locale-aware dates.

Catalogs are ``carebook/locale/<lang>/LC_MESSAGES/messages.po``; adding a language is adding
a catalog (``pybabel init -i messages.pot -d src/carebook/locale -l fr``), nothing else. The
``.po`` files are compiled in memory on first use, so no binary ``.mo`` is committed.

Which language: the patient's own choice, else the browser's ``Accept-Language``, else the
clinic's ``default_language``, else English (``choose()``).
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

DEFAULT_LANGUAGE = "en"


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs; translated later, where the language is known."""
    return message


@cache
def available_languages() -> tuple[str, ...]:
    """English (the source language) plus every language with a catalog."""
    found = {DEFAULT_LANGUAGE}
    folder = resources.files("carebook").joinpath("locale")
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.joinpath("LC_MESSAGES", "messages.po").is_file():
                found.add(entry.name)
    return tuple(sorted(found))


@cache
def translations(lang: str) -> NullTranslations:
    if lang == DEFAULT_LANGUAGE or lang not in available_languages():
        return NullTranslations()
    po = resources.files("carebook").joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def normalize(lang: str | None) -> str | None:
    """A supported language for a tag such as ``de-AT`` or ``de_DE``; ``None`` if unsupported."""
    if not lang:
        return None
    base = lang.strip().replace("_", "-").split("-")[0].lower()
    return base if base in available_languages() else None


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an ``Accept-Language`` header, most preferred first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        if not tag or tag == "*":
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if q > 0:
            weighted.append((-q, i, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def choose(
    choice: str | None = None,
    accept_language: str | None = None,
    clinic_default: str | None = None,
) -> str:
    """The patient's choice, else the best of ``Accept-Language``, else the clinic's default."""
    candidates: list[str | None] = [choice, *parse_accept_language(accept_language)]
    candidates.append(clinic_default)
    for candidate in candidates:
        if found := normalize(candidate):
            return found
    return DEFAULT_LANGUAGE


def gettext(lang: str, message: str) -> str:
    return str(translations(lang).ugettext(message))


def ngettext(lang: str, singular: str, plural: str, n: int) -> str:
    return str(translations(lang).ungettext(singular, plural, n))


# Formats per language: English pages and messages use the 24-hour clock and day-month order
# (en_GB), as the pages did before; other languages use their own CLDR defaults.
FORMAT_LOCALES = {"en": "en_GB"}


def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(FORMAT_LOCALES.get(lang, lang))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LANGUAGE)


def date_text(instant: datetime, zone: ZoneInfo, lang: str) -> str:
    """``Monday 29 March 2027`` / ``Montag, 29. März 2027`` in ``zone``."""
    return str(format_date(instant.astimezone(zone).date(), format="full", locale=_locale(lang)))


def time_text(instant: datetime, zone: ZoneInfo, lang: str) -> str:
    """``10:00`` in ``zone`` (the locale's short time)."""
    return str(format_time(instant.astimezone(zone), format="short", locale=_locale(lang)))


def zone_text(zone: ZoneInfo, instant: datetime) -> str:
    """The zone's name and its abbreviation at ``instant``, e.g. ``Europe/Berlin (CEST)``."""
    return f"{zone.key} ({instant.astimezone(zone).tzname()})"


LANG_COOKIE = "carebook_lang"


def request_language(request: Any, default: str | None = None) -> str:
    """A page's language: ``?lang=``, else the ``carebook_lang`` cookie (the patient's
    choice), else ``Accept-Language``, else ``default`` (the clinic's), else English.
    Computed once per request (kept in ``request.state``)."""
    if request is None:
        return normalize(default) or DEFAULT_LANGUAGE
    cached = request.state.get("carebook_lang") if hasattr(request, "state") else None
    if cached:
        return str(cached)
    choice = normalize(request.query_params.get("lang")) or normalize(
        request.cookies.get(LANG_COOKIE)
    )
    lang = choose(choice, request.headers.get("accept-language"), default)
    request.state.carebook_lang = lang
    return lang


def context_language(ctx: Any) -> str:
    """The language of a template render: ``lang`` if given, else the request's (with the
    clinic's default when the page has a ``tenant``)."""
    if lang := ctx.get("lang"):
        return str(lang)
    tenant = ctx.get("tenant")
    default = getattr(getattr(tenant, "settings", None), "default_language", None)
    return request_language(ctx.get("request"), default)


def install(env: Environment) -> None:
    """``{% trans %}``/``_()`` in ``env`` translate into the render's language
    (``context_language``); ``page_lang()`` gives it for ``<html lang>``."""
    env.add_extension("jinja2.ext.i18n")

    @pass_context
    def _gettext(ctx: Context, message: str) -> str:
        return gettext(context_language(ctx), message)

    @pass_context
    def _ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
        return ngettext(context_language(ctx), singular, plural, n)

    @pass_context
    def page_lang(ctx: Context) -> str:
        return context_language(ctx)

    @pass_context
    def language_links(ctx: Context) -> list[dict[str, Any]]:
        return languages_for_picker(context_language(ctx))

    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    env.globals["page_lang"] = page_lang
    env.globals["language_links"] = language_links


def languages_for_picker(current: str) -> list[dict[str, Any]]:
    """Each available language named in itself (``Deutsch``), for a language switcher."""
    return [
        {"code": code, "name": (Locale.parse(code).get_display_name(code) or code).capitalize(),
         "current": code == current}
        for code in available_languages()
    ]  # fmt: skip
