// Holding a slot: one hold per tab (its session key), released on change, counted down.
import { call, serverSkew } from "./api.js";
import { clockText } from "./format.js";
import { ngettext } from "./i18n.js";

const SESSION_KEY = "carebook.session_key";
const MILESTONES = [5 * 60, 60, 30]; // seconds left at which screen readers hear the time

/** A random per-tab key: a new hold with it releases this tab's previous hold. */
export function tabSessionKey() {
  let key = null;
  try {
    key = sessionStorage.getItem(SESSION_KEY);
    if (!key) {
      key = crypto.randomUUID();
      sessionStorage.setItem(SESSION_KEY, key);
    }
  } catch {
    key = key || crypto.randomUUID();
  }
  return key;
}

export class Hold {
  constructor({ api, calendarId, timerEl, announce, onExpire }) {
    this.api = api;
    this.calendarId = calendarId;
    this.timerEl = timerEl;
    this.announce = announce;
    this.onExpire = onExpire;
    this.current = null; // the API's hold: {hold_id, token, expires_at, specialist_id, start, end}
    this.timer = null;
    this.skew = 0;
  }

  /** POST a hold for `slot`; resolves to the API result (201 keeps it as `current`). */
  async take(slot, specialistId) {
    const body = { calendar_id: this.calendarId, start: slot.start, session_key: tabSessionKey() };
    if (specialistId) body.specialist_id = specialistId;
    const result = await call(`${this.api}/holds`, { method: "POST", body });
    if (result.status === 201) {
      this.stop();
      this.current = result.body;
      // Only trust the Date header for real clock differences: it has 1 s resolution.
      const skew = serverSkew(result);
      this.skew = Math.abs(skew) > 2000 ? skew : 0;
      this.startCountdown();
    }
    return result;
  }

  /** Release the current hold (best effort: it also expires on its own). */
  async release({ keepalive = false } = {}) {
    const hold = this.current;
    this.stop();
    await this.releaseHold(hold, { keepalive });
  }

  /** DELETE `hold` (e.g. one whose countdown ran out here but not yet on the server). */
  async releaseHold(hold, { keepalive = false } = {}) {
    if (!hold) return;
    await call(`${this.api}/holds/${hold.hold_id}`, {
      method: "DELETE",
      headers: { "X-Hold-Token": hold.token },
      keepalive,
    });
  }

  /** Forget the hold without releasing it (it became an appointment). */
  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.current = null;
  }

  remainingMs() {
    if (!this.current) return 0;
    return Date.parse(this.current.expires_at) - (Date.now() + this.skew);
  }

  startCountdown() {
    const said = new Set();
    const tick = () => {
      const left = this.remainingMs();
      this.timerEl.textContent = clockText(left);
      const seconds = Math.ceil(left / 1000);
      for (const mark of MILESTONES) {
        if (seconds <= mark && seconds > mark - 5 && !said.has(mark)) {
          said.add(mark);
          this.announce(mark >= 60
            ? ngettext("{n} minute left to book this time.", "{n} minutes left to book this time.", mark / 60)
            : ngettext("{n} second left to book this time.", "{n} seconds left to book this time.", mark));
        }
      }
      if (left <= 0) {
        const expired = this.current;
        this.stop();
        this.onExpire(expired);
      }
    };
    tick();
    this.timer = setInterval(tick, 500);
  }
}
