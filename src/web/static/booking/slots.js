// The slot board: a strip of days (tabs) and the free times of the chosen day, kept current
// by fetches and live events.
import { call } from "./api.js";
import { dayPanel, dayTab } from "./days.js";
import { addDays } from "./format.js";
import { _ } from "./i18n.js";

const MOVES = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -1, ArrowDown: 1 };

/**
 * Holds the days shown (start..end in `zone`), fetches them, applies live events and renders
 * a date strip (one tab per day, arrow keys move between days) and the chosen day's times as
 * real <button>s (one tab stop; arrow keys move within the grid). Fetch results are
 * reconciled with events that arrived while they were in flight, so a slot taken meanwhile
 * never comes back.
 */
export class SlotBoard {
  constructor({ api, calendarId, container, onPick }) {
    this.api = api;
    this.calendarId = calendarId;
    this.container = container;
    this.onPick = onPick;
    this.zone = "UTC";
    this.specialistId = "";
    this.start = "";
    this.days = new Map(); // "YYYY-MM-DD" -> [{start, end, startMs, endMs, specialists}]
    this.closed = new Map(); // "YYYY-MM-DD" -> closure reason ("" when none was given)
    this.state = "loading"; // of the shown week: "loading" | "ready" | "error"
    this.selected = null; // the chosen day; null = the first day with free times, once known
    this.activeKey = null; // the time button that holds the grid's tab stop
    this.pendingKey = null; // the time being held (request in flight)
    this.generation = 0; // bumps when range, zone or filter change: older answers are dropped
    this.daySeq = new Map();
    this.taken = []; // [{seq, specialist, startMs, endMs}] from slot.held / slot.booked
    this.eventSeq = 0;
    this.listeners = [];
    container.addEventListener("click", (e) => this.onClick(e));
    container.addEventListener("keydown", (e) => this.onKey(e));
  }

  get end() {
    return addDays(this.start, 6);
  }

  /** Called after each render with the number of slots shown. */
  onRender(listener) {
    this.listeners.push(listener);
  }

  slotFor(button) {
    const list = this.days.get(button.dataset.day) || [];
    return list.find((s) => String(s.startMs) === button.dataset.key) || null;
  }

  totalSlots() {
    let n = 0;
    for (const list of this.days.values()) n += list.length;
    return n;
  }

  /** The first shown day with free times, or null. */
  firstDayWithSlots() {
    for (let d = this.start; d <= this.end; d = addDays(d, 1)) {
      if ((this.days.get(d) || []).length) return d;
    }
    return null;
  }

  /** Show `start`.. +6 days in `zone` for `specialistId` ("" = anyone); fetches them. */
  async show({ start, zone, specialistId, day = null }) {
    this.start = start;
    this.zone = zone;
    this.specialistId = specialistId;
    this.generation += 1;
    this.days = new Map();
    this.closed = new Map();
    this.selected = day; // null: the first day with free times, once they are known
    // The old week's buttons go at once: never leave stale times that can be tapped.
    this.state = "loading";
    this.render();
    return this.refresh(start, this.end);
  }

  /** Refetch every shown day (after an error: show the week loading again). */
  async refreshAll() {
    if (!this.start) return true;
    if (this.state === "error") {
      this.state = "loading";
      this.render();
    }
    return this.refresh(this.start, this.end);
  }

  /** Refetch the shown days among `from`..`to`; false when the fetch failed. */
  async refresh(from, to) {
    const lo = from < this.start ? this.start : from;
    const hi = to > this.end ? this.end : to;
    if (lo > hi) return true;
    const generation = this.generation;
    const since = this.eventSeq;
    const seqs = {};
    for (let d = lo; d <= hi; d = addDays(d, 1)) {
      seqs[d] = (this.daySeq.get(d) || 0) + 1;
      this.daySeq.set(d, seqs[d]);
    }
    const params = new URLSearchParams({ start: lo, end: hi, tz: this.zone });
    if (this.specialistId) params.set("specialist_id", this.specialistId);
    const url = `${this.api}/calendars/${this.calendarId}/slots?${params}`;
    this.container.setAttribute("aria-busy", "true");
    const result = await call(url);
    if (generation !== this.generation) return true;
    if (!result.ok) {
      this.container.setAttribute("aria-busy", "false");
      if (this.state === "loading") {
        this.state = "error";
        this.render();
      }
      return false;
    }
    const fetched = new Map();
    for (const day of result.body.days || []) fetched.set(day.date, day);
    for (let d = lo; d <= hi; d = addDays(d, 1)) {
      if (this.daySeq.get(d) !== seqs[d]) continue; // a newer fetch of this day is on its way
      const day = fetched.get(d) || {};
      const slots = (day.slots || []).map((s) => ({
        start: s.start,
        end: s.end,
        startMs: Date.parse(s.start),
        endMs: Date.parse(s.end),
        specialists: [...(s.specialist_ids || [])],
      }));
      this.days.set(d, slots);
      if (typeof day.closed === "string") this.closed.set(d, day.closed);
      else this.closed.delete(d);
    }
    // Events newer than this request may not be reflected in its answer: apply them again.
    for (const t of this.taken) if (t.seq > since) this.removeTaken(t, false);
    this.taken = this.taken.filter((t) => t.seq > this.eventSeq - 200);
    this.container.setAttribute("aria-busy", "false");
    if (this.days.size >= 7) this.state = "ready";
    this.render();
    return true;
  }

  /** slot.held / slot.booked: that specialist is no longer free over [start, end). */
  markTaken(data) {
    const t = {
      seq: ++this.eventSeq,
      specialist: data.specialist_id,
      startMs: Date.parse(data.start),
      endMs: Date.parse(data.end),
    };
    this.taken.push(t);
    this.removeTaken(t, true);
  }

  removeTaken(t, rerender) {
    let changed = false;
    for (const [day, list] of this.days) {
      const kept = [];
      for (const slot of list) {
        if (slot.startMs < t.endMs && t.startMs < slot.endMs) {
          const rest = slot.specialists.filter((id) => id !== t.specialist);
          if (rest.length !== slot.specialists.length) changed = true;
          if (rest.length === 0) continue;
          slot.specialists = rest;
        }
        kept.push(slot);
      }
      this.days.set(day, kept);
    }
    if (changed && rerender) this.render();
  }

  /** A live event: apply or refetch as the scheduling spec §7 says. */
  handleEvent(type, data) {
    if (type === "slot.held" || type === "slot.booked") {
      this.markTaken(data);
    } else if (type === "slot.released") {
      const from = Date.parse(data.start);
      const to = Math.max(from, Date.parse(data.end) - 1);
      if (Number.isFinite(from)) this.refreshInstants(from, to);
    } else {
      this.refreshAll();
    }
  }

  refreshInstants(fromMs, toMs) {
    const fmt = new Intl.DateTimeFormat("en-CA", {
      timeZone: this.zone, year: "numeric", month: "2-digit", day: "2-digit",
    });
    this.refresh(fmt.format(new Date(fromMs)), fmt.format(new Date(toMs)));
  }

  // --- choosing ----------------------------------------------------------------------------

  /** Show `day`'s times; `focus`: "tab" (the day's tab), "slot" (its first time) or none. */
  select(day, focus = "") {
    if (day < this.start || day > this.end) return;
    this.selected = day;
    this.activeKey = null;
    this.render();
    if (focus === "tab") this.tabFor(day)?.focus();
    if (focus === "slot") {
      const first = this.container.querySelector(`#panel-${day} button.slot`);
      (first || this.container.querySelector(`#day-${day}`))?.focus();
    }
  }

  /** Mark the time being held (null: none): it says so and cannot be tapped twice. */
  setPending(key) {
    this.pendingKey = key;
    this.render();
  }

  /** The day whose times are shown (the first day while the week is loading). */
  shownDay() {
    return this.selected || this.start;
  }

  tabFor(day) {
    return this.container.querySelector(`#tab-${day}`);
  }

  onClick(e) {
    const tab = e.target.closest("button[role=tab]");
    if (tab) return this.select(tab.dataset.date, "tab");
    if (e.target.closest(".retry")) return this.refreshAll();
    const button = e.target.closest("button.slot");
    if (!button || this.pendingKey) return;
    this.activeKey = button.dataset.key;
    this.onPick(this.slotFor(button), button);
  }

  onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const tab = e.target.closest("button[role=tab]");
    if (tab) return this.moveTab(e, tab);
    const button = e.target.closest("button.slot");
    if (button) this.moveSlot(e, button);
  }

  moveTab(e, tab) {
    const tabs = [...this.container.querySelectorAll("button[role=tab]")];
    const i = tabs.indexOf(tab);
    let j = null;
    if (e.key in MOVES) j = i + MOVES[e.key];
    else if (e.key === "Home") j = 0;
    else if (e.key === "End") j = tabs.length - 1;
    if (j === null) return;
    e.preventDefault();
    j = Math.max(0, Math.min(tabs.length - 1, j));
    this.select(tabs[j].dataset.date, "tab");
  }

  moveSlot(e, button) {
    const buttons = [...button.closest("ul").querySelectorAll("button.slot")];
    const i = buttons.indexOf(button);
    // Columns of the grid as laid out now (the first row's buttons share its top).
    const top = buttons[0].offsetTop;
    const columns = Math.max(1, buttons.filter((b) => b.offsetTop === top).length);
    let j = null;
    if (e.key === "ArrowLeft") j = i - 1;
    else if (e.key === "ArrowRight") j = i + 1;
    else if (e.key === "ArrowUp") j = i - columns;
    else if (e.key === "ArrowDown") j = i + columns;
    else if (e.key === "Home") j = 0;
    else if (e.key === "End") j = buttons.length - 1;
    if (j === null) return;
    e.preventDefault();
    if (j < 0 || j >= buttons.length) return;
    for (const b of buttons) b.tabIndex = -1;
    buttons[j].tabIndex = 0;
    this.activeKey = buttons[j].dataset.key;
    buttons[j].focus();
  }

  // --- drawing -----------------------------------------------------------------------------

  /** Redraw; keyboard focus stays on the same tab or slot (or the nearest one). */
  render() {
    const active = document.activeElement;
    const inside = active && this.container.contains(active);
    const focusKey = inside && active.classList.contains("slot") ? active.dataset.key : null;
    const focusDay = focusKey ? active.dataset.day : null;
    const focusTab = inside && active.getAttribute("role") === "tab";
    const focusRetry = inside && active.classList.contains("retry");

    if (this.state === "ready" && (!this.selected || this.selected < this.start
        || this.selected > this.end)) {
      this.selected = this.firstDayWithSlots() || this.start;
    }
    const picker = document.createElement("div");
    picker.className = "picker";
    const strip = document.createElement("div");
    strip.className = "date-strip";
    strip.setAttribute("role", "tablist");
    strip.setAttribute("aria-label", _("Days"));
    const panels = document.createElement("div");
    panels.className = "day-panels";
    for (let d = this.start; d <= this.end; d = addDays(d, 1)) {
      strip.append(dayTab(this, d));
      panels.append(dayPanel(this, d));
    }
    picker.append(strip, panels);
    this.container.replaceChildren(picker);
    this.container.classList.toggle("is-loading", this.state === "loading");

    if (focusKey) this.restoreFocus(focusKey, focusDay);
    else if (focusTab && this.selected) this.tabFor(this.selected)?.focus();
    else if (focusRetry) this.container.querySelector(".retry, button.slot, [role=tab]")?.focus();
    for (const listener of this.listeners) listener(this.totalSlots());
  }

  restoreFocus(key, day) {
    const same = this.container.querySelector(`button.slot[data-key="${key}"]`);
    if (same && !same.closest("[hidden]")) {
      same.tabIndex = 0;
      return same.focus();
    }
    const later = [...this.container.querySelectorAll(`button.slot[data-day="${day}"]`)]
      .find((b) => Number(b.dataset.key) > Number(key));
    const target = later || this.container.querySelector(`#day-${day}`);
    if (target && !target.closest("[hidden]")) {
      if (later) {
        for (const b of later.closest("ul").querySelectorAll("button.slot")) b.tabIndex = -1;
        later.tabIndex = 0;
      }
      target.focus();
    }
  }
}
