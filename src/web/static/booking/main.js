// The booking page: choose a time → it is held (countdown) → details → booked.
import { problemCode, retryAfter } from "./api.js";
import { DetailsForm } from "./form.js";
import { call } from "./api.js";
import {
  addDays, dateKey, dayLabel, detectedZone, knownZones, longDate, priceText, setZoneNames,
  shortDay, timeText, uses12Hours, zoneLabel,
} from "./format.js";
import { Hold } from "./hold.js";
import { _, ngettext } from "./i18n.js";
import { subscribe } from "./live.js";
import { SlotBoard } from "./slots.js";

const config = JSON.parse(document.getElementById("booking-config").textContent);
const $ = (id) => document.getElementById(id);
const steps = { slots: $("step-slots"), details: $("step-details"), done: $("step-done") };
const tzSelect = $("tz");
const specialistSelect = $("specialist");
setZoneNames(config.zoneNames);

let announceTimer = null;
/** Say `text` through the polite live region (cleared first so repeats are read too). */
function announce(text) {
  clearTimeout(announceTimer);
  $("status").textContent = "";
  announceTimer = setTimeout(() => { $("status").textContent = text; }, 60);
}

/** The message above the times; `focus` puts the patient's focus on it (a lost hold). */
function showAlert(text, { focus = false } = {}) {
  $("alert").textContent = text;
  $("alert").hidden = !text;
  if (text && focus) $("alert").focus();
}

function showStep(name, focusId) {
  for (const [key, el] of Object.entries(steps)) el.hidden = key !== name;
  if (focusId) $(focusId).focus();
}

// --- time zone picker ---------------------------------------------------------------------
const zones = knownZones();
const device = detectedZone();
// Intl lists no "UTC" (nor older aliases some systems report), yet the server knows them.
const usable = (z) => z && (zones.length === 0 || zones.includes(z) || /^(UTC|Etc\/)/.test(z));
let zone = usable(device) ? device : config.clinicTimezone;

function option(value, label) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  return o;
}

function fillZones() {
  const suggested = document.createElement("optgroup");
  suggested.label = _("Suggested");
  const picked = new Set();
  if (usable(device)) {
    suggested.append(option(device, _("{zone} (this device)", { zone: zoneLabel(device) })));
    picked.add(device);
  }
  if (!picked.has(config.clinicTimezone)) {
    suggested.append(option(config.clinicTimezone, _("{zone} (clinic)", { zone: zoneLabel(config.clinicTimezone) })));
    picked.add(config.clinicTimezone);
  }
  const all = document.createElement("optgroup");
  all.label = _("All time zones");
  // Sorted by name, so the cities of one zone ("Central European Time — …") sit together.
  const rest = [...zones, "UTC"].filter((z) => !picked.has(z)).map((z) => [zoneLabel(z), z]);
  rest.sort((a, b) => a[0].localeCompare(b[0]));
  for (const [label, z] of rest) all.append(option(z, label));
  tzSelect.replaceChildren(suggested, all);
  tzSelect.value = zone;
}

// --- the week shown ------------------------------------------------------------------------
const today = () => dateKey(Date.now(), zone);
let start = today();
const specialistId = () => (specialistSelect ? specialistSelect.value : "");

const board = new SlotBoard({
  api: config.api, calendarId: config.calendar.id, container: $("days"), onPick: pick,
});
board.onRender((count) => {
  $("no-slots").hidden = count > 0 || config.specialists.length === 0;
});

function updateNav() {
  const last = addDays(today(), config.calendar.horizonDays);
  $("prev-week").disabled = start <= today();
  $("next-week").disabled = addDays(start, 7) > last;
  $("range-label").textContent = `${shortDay(start)} – ${shortDay(addDays(start, 6))}`;
}

/** Show the week from `start` (its day `day`, else its first day with free times). */
async function load(day = null) {
  if (start < today()) start = today();
  updateNav();
  if (config.specialists.length === 0) {
    $("days").replaceChildren();
    $("days").setAttribute("aria-busy", "false");
    return true;
  }
  // A failed load says so in place of the times, with a Try again button.
  return board.show({ start, zone, specialistId: specialistId(), day });
}

tzSelect.addEventListener("change", () => {
  zone = tzSelect.value;
  load();
  announce(_("Times are now shown in {zone}.", { zone: zoneLabel(zone) }));
});

// "Jump to the first available time": the first day with free times from today, week by
// week up to the calendar's horizon; its first time gets the focus.
const firstButton = $("first-available");
async function firstAvailable() {
  const last = addDays(today(), config.calendar.horizonDays);
  firstButton.disabled = true;
  firstButton.textContent = _("Looking for the first available time…");
  try {
    for (let from = today(); from <= last; from = addDays(from, 7)) {
      const params = new URLSearchParams({ start: from, end: addDays(from, 6), tz: zone });
      if (specialistId()) params.set("specialist_id", specialistId());
      const result = await call(`${config.api}/calendars/${config.calendar.id}/slots?${params}`);
      if (!result.ok) {
        showAlert(_("We could not look for free times. Please check your connection and try again."));
        return;
      }
      const found = (result.body.days || []).find((d) => d.date <= last && (d.slots || []).length);
      if (found) {
        showAlert("");
        if (found.date < start || found.date > addDays(start, 6)) {
          start = from;
          await load(found.date);
        }
        board.select(found.date, "slot");
        const first = found.slots[0];
        announce(_("First available time: {time}, {day}.", { time: timeText(Date.parse(first.start), zone), day: dayLabel(found.date) }));
        return;
      }
    }
    showAlert(_("There are no free times in the next {days} days. Please contact {clinic}.", { days: config.calendar.horizonDays, clinic: config.clinicName }), { focus: true });
  } finally {
    firstButton.disabled = false;
    firstButton.textContent = _("Jump to the first available time");
  }
}
if (firstButton) firstButton.addEventListener("click", firstAvailable);
if (specialistSelect) specialistSelect.addEventListener("change", () => load());
const showing = () => announce(_("Showing {range}.", { range: $("range-label").textContent }));
$("prev-week").addEventListener("click", () => {
  start = addDays(start, -7);
  load();
  showing();
});
$("next-week").addEventListener("click", () => {
  start = addDays(start, 7);
  load();
  showing();
});

// --- holding -------------------------------------------------------------------------------
let picking = false;
let submitting = false;
let expiredWhileSubmitting = false;

const hold = new Hold({
  api: config.api, calendarId: config.calendar.id, timerEl: $("countdown"), announce,
  onExpire: async (expired) => {
    if (submitting) {
      expiredWhileSubmitting = true; // the server decides: an expired but free slot still books
      return;
    }
    backToSlots(_("Your hold has expired and the time was released.") + " " + KEPT);
    // Clocks differ: make sure the server lets the time go now that the patient was told so.
    await hold.releaseHold(expired);
    board.refreshAll();
  },
});

function specialistName(id) {
  const s = config.specialists.find((x) => x.id === id);
  return s ? s.name : "";
}

function slotText(startIso, endIso) {
  const s = Date.parse(startIso);
  return `${longDate(s, zone)}, ${timeText(s, zone)}–${timeText(Date.parse(endIso), zone)}`;
}

async function pick(slot) {
  if (!slot || picking) return;
  picking = true;
  showAlert("");
  // The tapped time says it is being held until the server answers (slow networks).
  board.setPending(String(slot.startMs));
  announce(_("Holding {time} for you…", { time: timeText(slot.startMs, zone) }));
  const result = await hold.take(slot, specialistId());
  picking = false;
  board.setPending(null);
  if (result.status === 201) {
    const h = hold.current;
    const who = specialistName(h.specialist_id);
    const held = `${slotText(h.start, h.end)} (${zoneLabel(zone)})`;
    $("held-slot").textContent = who ? _("{time} with {name}", { time: held, name: who }) : held;
    $("details-kept").hidden = !Object.values(form.values()).some(Boolean);
    showStep("details", "details-heading");
    const minutes = Math.max(1, Math.round(hold.remainingMs() / 60000));
    announce(ngettext(
      "{time} on {day} is held for you for {n} minute. Please enter your details.",
      "{time} on {day} is held for you for {n} minutes. Please enter your details.",
      minutes,
      { time: timeText(Date.parse(h.start), zone), day: dayLabel(dateKey(Date.parse(h.start), zone)) },
    ));
    return;
  }
  const code = problemCode(result);
  if (result.status === 409 || result.status === 422 || code === "slot_unavailable") {
    showAlert(_("Sorry, that time was just taken. Please choose another time."));
  } else if (result.status === 429) {
    showAlert(_("Too many attempts. Please wait {seconds} seconds and try again.", { seconds: retryAfter(result) }));
  } else {
    showAlert(_("We could not hold this time. Please try again."));
  }
  board.refreshAll();
}

/** Back to the times; whatever the patient typed stays in the form for the next time. */
function backToSlots(message) {
  hold.stop();
  form.clearErrors();
  showStep("slots", message ? "" : "slots-heading");
  showAlert(message || "", { focus: true });
  board.refreshAll();
}

const KEPT = _("Your details are kept: choose another time and you will not need to type them again.");

$("change-slot").addEventListener("click", async () => {
  const release = hold.release();
  backToSlots("");
  announce(_("Your held time was released. Please choose another time; your details are kept."));
  await release;
  board.refreshAll();
});

// --- details and booking -------------------------------------------------------------------
const form = new DetailsForm({ form: $("details-form"), api: config.api });

$("details-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const current = hold.current;
  if (!current || submitting) return;
  submitting = true;
  expiredWhileSubmitting = false;
  let result;
  try {
    result = await form.submit(current, zone);
  } finally {
    submitting = false;
  }
  if (result.outcome === "booked") return showBooked(result.body);
  if (result.outcome === "expired") {
    return backToSlots(_("Sorry, your hold expired and the time was taken while you were typing.") + " " + KEPT);
  }
  if (expiredWhileSubmitting) {
    backToSlots(_("Your hold has expired and the time was released.") + " " + KEPT);
  }
});

function manageToken(url) {
  try {
    return new URL(url, location.href).searchParams.get("token") || "";
  } catch {
    return "";
  }
}

function showBooked(b) {
  hold.stop();
  const s = Date.parse(b.start);
  $("done-service").textContent = (b.calendar && b.calendar.name) || config.calendar.name;
  $("done-date").textContent = longDate(s, zone);
  // As the manage page writes it: the times, then the zone by name (web/zones.py).
  const zoneName = document.createElement("span");
  zoneName.className = "zone";
  zoneName.textContent = `(${zoneLabel(zone)})`;
  $("done-time").replaceChildren(`${timeText(s, zone)}–${timeText(Date.parse(b.end), zone)} `, zoneName);
  $("done-specialist").textContent = (b.specialist && b.specialist.name) || specialistName(b.specialist_id);
  $("done-price").textContent = b.price ? priceText(b.price.amount_minor, b.price.currency) : "";
  $("manage-link").href = b.manage_url;
  const token = manageToken(b.manage_url);
  $("ics-link").href = `${config.pagesBase}/appointments/${b.appointment_id}.ics?token=${encodeURIComponent(token)}`;
  $("ics-link").setAttribute("download", `appointment-${b.appointment_id}.ics`);
  showAlert("");
  showStep("done", "done-heading");
  announce(_("Your appointment is booked."));
  if (live) live.close();
}

// Leaving the page gives the held time back at once instead of when the hold expires.
addEventListener("pagehide", () => {
  if (hold.current) hold.release({ keepalive: true });
});
// Back from the back/forward cache: the hold was given back when the page was left.
addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  if (!steps.details.hidden && !hold.current) {
    backToSlots(_("The time you held was released while you were away.") + " " + KEPT);
  } else {
    board.refreshAll();
  }
});

// --- live updates --------------------------------------------------------------------------
const live = subscribe(
  `${config.api}/calendars/${config.calendar.id}/events`,
  (type, data) => board.handleEvent(type, data),
  (state) => {
    document.body.dataset.live = state;
    $("live-status").hidden = state !== "reconnecting";
  },
);

$("days").classList.toggle("hour12", uses12Hours);
fillZones();
load();
