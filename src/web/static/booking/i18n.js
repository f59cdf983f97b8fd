// The page's language for the scripts: translations from the page's JSON block
// (`js-messages`, rendered by web/js_messages.py from the gettext catalogs). Strings are
// written `_("Holding {time}…", { time })` so `pybabel extract` finds them (babel.cfg).

function readCatalog() {
  const el = document.getElementById("js-messages");
  try {
    return el ? JSON.parse(el.textContent) : {};
  } catch {
    return {};
  }
}

const catalog = readCatalog();

/** The page's language ("de"), as on <html lang>. */
export const lang = catalog.lang || document.documentElement.lang || "en";

/**
 * The locale for Intl dates and times: the browser's own when it speaks the page's
 * language (so "en-US" keeps its 12-hour clock), else the page language's (as the server
 * writes dates: "en-GB" for English).
 */
export const formatLocale = (() => {
  const browser = (typeof navigator !== "undefined" && navigator.language) || "";
  if (browser && browser.split("-")[0].toLowerCase() === lang) return browser;
  return catalog.formatLocale || lang;
})();

function fill(text, params) {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** `message` in the page's language, with `{name}` placeholders filled from `params`. */
export function _(message, params) {
  const messages = catalog.messages || {};
  return fill(messages[message] || message, params);
}

/** The form of `singular`/`plural` for `n` in the page's language (`{n}` and `params`). */
export function ngettext(singular, plural, n, params = {}) {
  const forms = (catalog.plurals || {})[singular];
  const table = catalog.pluralIndex || "";
  let text;
  if (forms && table.length === 200) {
    const k = Math.abs(Math.trunc(n));
    const index = Number(table[k < 200 ? k : 100 + (k % 100)]);
    text = forms[index] ?? (n === 1 ? singular : plural);
  } else {
    text = n === 1 ? singular : plural;
  }
  return fill(text, { n, ...params });
}
