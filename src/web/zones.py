"""Time-zone names patients recognise: "Central European Time — Berlin", not "Europe/Berlin".

One table, made here from CLDR data (Babel), is the only source: the server writes it on the
manage and error pages and sends it to the booking page, whose script shows the same text in
the zone picker, on the held time and on the confirmation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.core import get_global

_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Etc/GMT"})
_SKIP_PREFIXES = ("posix/", "right/", "SystemV/", "US/", "Canada/", "Mexico/", "Brazil/", "Chile/")
DASH = " — "


def _observes_dst(zone: ZoneInfo) -> bool:
    year = datetime.now(UTC).year
    offsets = {datetime(year, m, 1, tzinfo=UTC).astimezone(zone).utcoffset() for m in (1, 7)}
    return len(offsets) > 1


def _offset_name(zone: ZoneInfo) -> str:
    offset = datetime.now(UTC).astimezone(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"GMT{sign}{hours:02d}:{rest:02d}"


def city(name: str) -> str:
    """``Europe/Isle_of_Man`` → ``Isle of Man``."""
    return name.rsplit("/", 1)[-1].replace("_", " ")


@lru_cache(maxsize=1024)
def _template(name: str, locale: str) -> str:
    """The label with ``{city}`` where the place goes (see ``zone_label``)."""
    if name in _UTC_NAMES:
        return "Coordinated Universal Time (UTC)"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "{city}"
    if name.startswith("Etc/"):
        return _offset_name(zone)
    loc = Locale.parse(locale)
    canonical = get_global("zone_aliases").get(name, name)
    metazone = get_global("meta_zones").get(canonical)
    names = loc.meta_zones.get(metazone, {}).get("long", {}) if metazone else {}
    own = loc.time_zones.get(canonical, {}).get("long", {})
    order = ("generic", "standard") if _observes_dst(zone) else ("standard", "generic")
    general = next((n for src in (own, names) for k in order if (n := src.get(k))), None)
    if not general:
        territory = get_global("zone_territories").get(canonical)
        country = loc.territories.get(territory) if territory else None
        general = f"{country} Time" if country else _offset_name(zone)
    general = general.replace("{", "(").replace("}", ")")
    # An old name (browsers still report "Asia/Calcutta") shows today's city ("Kolkata").
    return general + DASH + ("{city}" if canonical == name else city(canonical))


def zone_label(name: str, locale: str = "en") -> str:
    """``Central European Time — Berlin``; UTC is ``Coordinated Universal Time (UTC)``.

    The CLDR metazone's generic name where the zone changes clocks, its standard name where
    it does not ("India Standard Time — Kolkata"), the country ("United Kingdom Time —
    London") where CLDR has no metazone name, else the offset ("GMT+05:45 — Kathmandu").
    """
    return _template(name, locale).replace("{city}", city(name))


@lru_cache(maxsize=4)
def zone_table(locale: str = "en") -> dict[str, object]:
    """Every zone's label for the booking page, compactly: ``names`` are templates with
    ``{city}`` (see ``city``) and ``zones`` maps each zone to its template's index."""
    templates: dict[str, int] = {}
    zones: dict[str, int] = {}
    for name in sorted(available_timezones()):
        if name.startswith(_SKIP_PREFIXES) or ("/" not in name and name not in _UTC_NAMES):
            continue
        zones[name] = templates.setdefault(_template(name, locale), len(templates))
    return {"names": list(templates), "zones": zones}
