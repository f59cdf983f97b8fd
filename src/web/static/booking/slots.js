// The slot board: days of free times, kept current by fetches and live events.
import { call } from "./api.js";
import { addDays, dayLabel, timeText } from "./format.js";

/**
 * Holds the days shown (start..end in `zone`), fetches them, applies live events and renders
 * real <button>s. Fetch results are reconciled with events that arrived while they were in
 * flight, so a slot taken meanwhile never comes back.
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
    this.generation = 0; // bumps when range, zone or filter change: older answers are dropped
    this.daySeq = new Map();
    this.taken = []; // [{seq, specialist, startMs, endMs}] from slot.held / slot.booked
    this.eventSeq = 0;
    this.listeners = [];
    container.addEventListener("click", (e) => {
      const button = e.target.closest("button.slot");
      if (button) this.onPick(this.slotFor(button));
    });
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

  /** Show `start`.. +6 days in `zone` for `specialistId` ("" = anyone); fetches them. */
  async show({ start, zone, specialistId }) {
    this.start = start;
    this.zone = zone;
    this.specialistId = specialistId;
    this.generation += 1;
    this.days = new Map();
    this.container.setAttribute("aria-busy", "true");
    return this.refresh(start, this.end);
  }

  /** Refetch every shown day. */
  async refreshAll() {
    if (this.start) return this.refresh(this.start, this.end);
    return true;
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
    const result = await call(url);
    if (generation !== this.generation) return true;
    if (!result.ok) {
      this.container.setAttribute("aria-busy", "false");
      return false;
    }
    const fetched = new Map();
    for (const day of result.body.days || []) fetched.set(day.date, day.slots || []);
    for (let d = lo; d <= hi; d = addDays(d, 1)) {
      if (this.daySeq.get(d) !== seqs[d]) continue; // a newer fetch of this day is on its way
      const slots = (fetched.get(d) || []).map((s) => ({
        start: s.start,
        end: s.end,
        startMs: Date.parse(s.start),
        endMs: Date.parse(s.end),
        specialists: [...(s.specialist_ids || [])],
      }));
      this.days.set(d, slots);
    }
    // Events newer than this request may not be reflected in its answer: apply them again.
    for (const t of this.taken) if (t.seq > since) this.removeTaken(t, false);
    this.taken = this.taken.filter((t) => t.seq > this.eventSeq - 200);
    this.container.setAttribute("aria-busy", "false");
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

  /** Redraw the days; keyboard focus stays on the same slot (or the nearest one). */
  render() {
    const active = document.activeElement;
    const focusKey = active && active.classList.contains("slot") ? active.dataset.key : null;
    const focusDay = focusKey ? active.dataset.day : null;
    const frag = document.createDocumentFragment();
    for (let d = this.start; d <= this.end; d = addDays(d, 1)) {
      const slots = this.days.get(d);
      const section = document.createElement("section");
      section.className = "day";
      section.dataset.date = d;
      const heading = document.createElement("h3");
      heading.id = `day-${d}`;
      heading.tabIndex = -1;
      heading.textContent = dayLabel(d);
      section.setAttribute("aria-labelledby", heading.id);
      section.append(heading);
      if (slots === undefined) {
        section.append(paragraph("loading", "Loading…"));
      } else if (slots.length === 0) {
        section.append(paragraph("none", "No free times"));
      } else {
        const ul = document.createElement("ul");
        ul.className = "slot-list";
        for (const slot of slots) {
          const li = document.createElement("li");
          const button = document.createElement("button");
          button.type = "button";
          button.className = "slot";
          button.dataset.key = String(slot.startMs);
          button.dataset.day = d;
          button.dataset.start = slot.start;
          button.dataset.specialists = slot.specialists.join(" ");
          const time = timeText(slot.startMs, this.zone);
          button.textContent = time;
          // The day is in the heading visually; screen readers hear it with the time.
          button.setAttribute("aria-label", `${time}, ${dayLabel(d)}`);
          li.append(button);
          ul.append(li);
        }
        section.append(ul);
      }
      frag.append(section);
    }
    this.container.replaceChildren(frag);
    if (focusKey) this.restoreFocus(focusKey, focusDay);
    for (const listener of this.listeners) listener(this.totalSlots());
  }

  restoreFocus(key, day) {
    const same = this.container.querySelector(`button.slot[data-key="${key}"]`);
    if (same) return same.focus();
    const later = [...this.container.querySelectorAll(`button.slot[data-day="${day}"]`)]
      .find((b) => Number(b.dataset.key) > Number(key));
    const target = later || this.container.querySelector(`#day-${day}`);
    if (target) target.focus();
  }
}

function paragraph(className, text) {
  const p = document.createElement("p");
  p.className = className;
  p.textContent = text;
  return p;
}
