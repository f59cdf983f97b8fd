// Dates, times, zones and prices for the booking page (no libraries: Intl does the work).

import { _, formatLocale } from "./i18n.js";

// The page's language decides (a German page writes German dates); see i18n.js.
const locale = formatLocale;

/** The browser's IANA time zone, or null when it reports none. */
export function detectedZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch {
    return null;
  }
}

/** Every IANA zone the browser knows (the picker's options). */
export function knownZones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return [];
  }
}

/** "YYYY-MM-DD" of the instant `ms` in `zone`. */
export function dateKey(ms, zone) {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
  }).format(new Date(ms));
}

/** The date `days` after the "YYYY-MM-DD" `key`. */
export function addDays(key, days) {
  const [y, m, d] = key.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** "Thursday 26 November" for a "YYYY-MM-DD" key. */
export function dayLabel(key, withYear = false) {
  const [y, m, d] = key.split("-").map(Number);
  const opts = { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" };
  if (withYear) opts.year = "numeric";
  return new Intl.DateTimeFormat(locale, opts).format(new Date(Date.UTC(y, m - 1, d)));
}

/** "Thu" for a "YYYY-MM-DD" key. */
export function shortWeekday(key) {
  const [y, m, d] = key.split("-").map(Number);
  return new Intl.DateTimeFormat(locale, { weekday: "short", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

/** "26 Nov" for a "YYYY-MM-DD" key. */
export function shortDay(key) {
  const [y, m, d] = key.split("-").map(Number);
  return new Intl.DateTimeFormat(locale, { day: "numeric", month: "short", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

/** "09:00" (or "9:00 AM", as the browser's locale writes times) of `ms` in `zone`. */
export function timeText(ms, zone) {
  return new Intl.DateTimeFormat(locale, { timeZone: zone, hour: hourStyle, minute: "2-digit" })
    .format(new Date(ms));
}

/** Whether the browser's locale writes times with AM/PM (wider slot buttons). */
export const uses12Hours = !["h23", "h24"].includes(
  new Intl.DateTimeFormat(locale, { hour: "numeric" }).resolvedOptions().hourCycle,
);
// "09:00" where the locale counts 24 hours, "9:00 AM" (not "09:00 AM") where it counts 12.
const hourStyle = uses12Hours ? "numeric" : "2-digit";

/** "Thursday 26 November 2026" of `ms` in `zone`. */
export function longDate(ms, zone) {
  return new Intl.DateTimeFormat(locale, {
    timeZone: zone, weekday: "long", day: "numeric", month: "long", year: "numeric",
  }).format(new Date(ms));
}

/** A price in minor units, written as the server writes it (see web/money.py). */
export function priceText(amountMinor, currency) {
  if (amountMinor === 0) return _("Free");
  const fmt = new Intl.NumberFormat("en", { style: "currency", currency });
  const digits = fmt.resolvedOptions().maximumFractionDigits;
  return fmt.format(amountMinor / 10 ** digits);
}

/** "mm:ss" for a number of milliseconds (never negative). */
export function clockText(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

// Zone names come from the server (web/zones.py, CLDR) so that the booking, confirmation and
// manage pages write them alike: {names: ["Central European Time — {city}", …], zones: {…}}.
let zoneTable = { names: [], zones: {} };

/** Use the server's table of zone names (the page's config `zoneNames`). */
export function setZoneNames(table) {
  if (table && table.names && table.zones) zoneTable = table;
}

/** "Isle of Man" for "Europe/Isle_of_Man" (as web/zones.py `city`). */
export function zoneCity(zone) {
  return zone.split("/").pop().replaceAll("_", " ");
}

/** "Central European Time — Berlin" for "Europe/Berlin". */
export function zoneLabel(zone) {
  const i = zoneTable.zones[zone];
  if (i !== undefined) return zoneTable.names[i].replace("{city}", zoneCity(zone));
  try { // a zone the server does not list: the browser's own name for it
    const part = new Intl.DateTimeFormat("en", { timeZone: zone, timeZoneName: "longGeneric" })
      .formatToParts(new Date()).find((p) => p.type === "timeZoneName");
    if (part) return `${part.value} — ${zoneCity(zone)}`;
  } catch {
    // fall through
  }
  return zoneCity(zone);
}
