// Drawing the slot board: a day's tab in the date strip and its panel of times.
import { dayLabel, shortWeekday, timeText } from "./format.js";
import { _, ngettext } from "./i18n.js";

/** The strip's tab for day `d` of `board` (a SlotBoard): weekday, date, free times. */
export function dayTab(board, d) {
  const slots = board.days.get(d);
  const selected = d === board.shownDay();
  const tab = document.createElement("button");
  tab.type = "button";
  tab.id = `tab-${d}`;
  tab.dataset.date = d;
  tab.setAttribute("role", "tab");
  tab.setAttribute("aria-controls", `panel-${d}`);
  tab.setAttribute("aria-selected", String(selected));
  tab.tabIndex = selected ? 0 : -1;
  const [, , dom] = d.split("-").map(Number);
  let count;
  let said;
  if (slots === undefined) {
    count = board.state === "error" ? "?" : "…";
    said = board.state === "error" ? _("not loaded") : _("loading");
  } else if (slots.length) {
    count = String(slots.length);
    said = ngettext("{n} free time", "{n} free times", slots.length);
  } else if (board.closed.has(d)) {
    count = _("Closed");
    said = _("closed");
    tab.classList.add("closed");
  } else {
    count = "–";
    said = _("no free times");
    tab.classList.add("empty");
  }
  // Screen readers hear the whole date and what it offers; the short forms are for eyes.
  const counted = span("count", count);
  if (slots && slots.length) counted.append(span("unit", " " + ngettext("time", "times", slots.length)));
  const visible = [span("dow", shortWeekday(d)), span("dom", String(dom)), counted];
  for (const v of visible) v.setAttribute("aria-hidden", "true");
  tab.append(...visible, span("visually-hidden", `${dayLabel(d)}: ${said}`));
  return tab;
}

/** Day `d`'s panel: loading, Try again, closed, no times, or its grid of time buttons. */
export function dayPanel(board, d) {
  const slots = board.days.get(d);
  const section = document.createElement("section");
  section.className = "day";
  section.id = `panel-${d}`;
  section.dataset.date = d;
  section.setAttribute("role", "tabpanel");
  section.hidden = d !== board.shownDay();
  const heading = document.createElement("h3");
  heading.id = `day-${d}`;
  heading.tabIndex = -1;
  heading.textContent = dayLabel(d);
  section.setAttribute("aria-labelledby", heading.id);
  section.append(heading);
  const reason = board.closed.get(d);
  if (slots === undefined && board.state === "error") {
    section.append(paragraph("load-error", _("We could not load the free times. Please check your connection.")));
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "secondary retry";
    retry.textContent = _("Try again");
    section.append(retry);
  } else if (slots === undefined) {
    const p = paragraph("loading", _("Loading free times…"));
    p.prepend(span("spinner", ""));
    p.firstChild.setAttribute("aria-hidden", "true");
    section.append(p);
  } else if (slots.length === 0) {
    section.append(paragraph("none", reason === undefined ? _("No free times on this day.")
      : reason ? _("Closed — {reason}", { reason }) : _("Closed")));
  } else {
    if (reason !== undefined) {
      section.append(paragraph("closed-note", reason
        ? _("The clinic is closed for part of this day — {reason}.", { reason })
        : _("The clinic is closed for part of this day.")));
    }
    section.append(slotList(board, d, slots));
  }
  return section;
}

function slotList(board, d, slots) {
  const ul = document.createElement("ul");
  ul.className = "slot-list";
  ul.setAttribute("aria-label", _("Free times, {day}. Use the arrow keys to move between them.", { day: dayLabel(d) }));
  const activeKey = slots.some((s) => String(s.startMs) === board.activeKey)
    ? board.activeKey : String(slots[0].startMs);
  for (const slot of slots) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "slot";
    const key = String(slot.startMs);
    button.dataset.key = key;
    button.dataset.day = d;
    button.dataset.start = slot.start;
    button.dataset.specialists = slot.specialists.join(" ");
    button.tabIndex = key === activeKey ? 0 : -1;
    const time = timeText(slot.startMs, board.zone);
    button.textContent = time;
    if (key === board.pendingKey) {
      button.classList.add("pending");
      button.setAttribute("aria-disabled", "true");
      button.append(" ", span("holding", _("Holding…")));
      button.setAttribute("aria-label", [time, _("Holding…")].join(" ") + ", " + dayLabel(d));
    } else {
      // The day is in the heading visually; screen readers hear it with the time.
      button.setAttribute("aria-label", `${time}, ${dayLabel(d)}`);
    }
    li.append(button);
    ul.append(li);
  }
  return ul;
}

function span(className, text) {
  const s = document.createElement("span");
  s.className = className;
  s.textContent = text;
  return s;
}

function paragraph(className, text) {
  const p = document.createElement("p");
  p.className = className;
  p.textContent = text;
  return p;
}
