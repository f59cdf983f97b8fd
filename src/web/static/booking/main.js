// The booking page: choose a time → it is held (countdown) → details → booked.
import { problemCode, retryAfter } from "./api.js";
import { DetailsForm } from "./form.js";
import {
  addDays, dateKey, dayLabel, detectedZone, knownZones, longDate, priceText, shortDay, timeText,
  uses12Hours,
} from "./format.js";
import { Hold } from "./hold.js";
import { subscribe } from "./live.js";
import { SlotBoard } from "./slots.js";

const config = JSON.parse(document.getElementById("booking-config").textContent);
const $ = (id) => document.getElementById(id);
const steps = { slots: $("step-slots"), details: $("step-details"), done: $("step-done") };
const tzSelect = $("tz");
const specialistSelect = $("specialist");

let announceTimer = null;
/** Say `text` through the polite live region (cleared first so repeats are read too). */
function announce(text) {
  clearTimeout(announceTimer);
  $("status").textContent = "";
  announceTimer = setTimeout(() => { $("status").textContent = text; }, 60);
}

function showAlert(text) {
  $("alert").textContent = text;
  $("alert").hidden = !text;
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
  suggested.label = "Suggested";
  const picked = new Set();
  if (usable(device)) {
    suggested.append(option(device, `${device.replaceAll("_", " ")} (this device)`));
    picked.add(device);
  }
  if (!picked.has(config.clinicTimezone)) {
    suggested.append(option(config.clinicTimezone, `${config.clinicTimezone.replaceAll("_", " ")} (clinic)`));
    picked.add(config.clinicTimezone);
  }
  const all = document.createElement("optgroup");
  all.label = "All time zones";
  for (const z of [...zones, "UTC"]) if (!picked.has(z)) all.append(option(z, z.replaceAll("_", " ")));
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

async function load() {
  if (start < today()) start = today();
  updateNav();
  if (config.specialists.length === 0) {
    $("days").replaceChildren();
    $("days").setAttribute("aria-busy", "false");
    return;
  }
  const ok = await board.show({ start, zone, specialistId: specialistId() });
  showAlert(ok ? "" : "We could not load the free times. Please check your connection and try again.");
}

tzSelect.addEventListener("change", () => {
  zone = tzSelect.value;
  load();
  announce(`Times are now shown in ${zone.replaceAll("_", " ")}.`);
});
if (specialistSelect) specialistSelect.addEventListener("change", () => load());
$("prev-week").addEventListener("click", () => {
  start = addDays(start, -7);
  load();
  announce(`Showing ${$("range-label").textContent}.`);
});
$("next-week").addEventListener("click", () => {
  start = addDays(start, 7);
  load();
  announce(`Showing ${$("range-label").textContent}.`);
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
    backToSlots("Your hold has expired and the time was released. Please choose a time again.");
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
  const result = await hold.take(slot, specialistId());
  picking = false;
  if (result.status === 201) {
    const h = hold.current;
    const who = specialistName(h.specialist_id);
    $("held-slot").textContent = `${slotText(h.start, h.end)} (${zone.replaceAll("_", " ")})${who ? ` with ${who}` : ""}`;
    showStep("details", "details-heading");
    const minutes = Math.max(1, Math.round(hold.remainingMs() / 60000));
    announce(`${timeText(Date.parse(h.start), zone)} on ${dayLabel(dateKey(Date.parse(h.start), zone))} is held for you for ${minutes} minutes. Please enter your details.`);
    return;
  }
  const code = problemCode(result);
  if (result.status === 409 || result.status === 422 || code === "slot_unavailable") {
    showAlert("Sorry, that time was just taken. Please choose another time.");
  } else if (result.status === 429) {
    showAlert(`Too many attempts. Please wait ${retryAfter(result)} seconds and try again.`);
  } else {
    showAlert("We could not hold this time. Please try again.");
  }
  board.refreshAll();
}

function backToSlots(message) {
  hold.stop();
  form.reset();
  showStep("slots", "slots-heading");
  showAlert(message || "");
  board.refreshAll();
}

$("change-slot").addEventListener("click", async () => {
  const release = hold.release();
  backToSlots("");
  announce("Your held time was released. Please choose a time.");
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
    return backToSlots("Sorry, your hold expired and the time was taken meanwhile. Please choose another time.");
  }
  if (expiredWhileSubmitting) {
    backToSlots("Your hold has expired and the time was released. Please choose a time again.");
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
  $("done-time").textContent = `${timeText(s, zone)}–${timeText(Date.parse(b.end), zone)} (${zone.replaceAll("_", " ")})`;
  $("done-specialist").textContent = (b.specialist && b.specialist.name) || specialistName(b.specialist_id);
  $("done-price").textContent = b.price ? priceText(b.price.amount_minor, b.price.currency) : "";
  $("manage-link").href = b.manage_url;
  const token = manageToken(b.manage_url);
  $("ics-link").href = `${config.pagesBase}/appointments/${b.appointment_id}.ics?token=${encodeURIComponent(token)}`;
  $("ics-link").setAttribute("download", `appointment-${b.appointment_id}.ics`);
  showAlert("");
  showStep("done", "done-heading");
  announce("Your appointment is booked.");
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
    backToSlots("The time you held was released while you were away. Please choose a time again.");
  } else {
    board.refreshAll();
  }
});

// --- live updates --------------------------------------------------------------------------
const live = subscribe(
  `${config.api}/calendars/${config.calendar.id}/events`,
  (type, data) => board.handleEvent(type, data),
  (state) => { document.body.dataset.live = state; },
);

$("days").classList.toggle("hour12", uses12Hours);
fillZones();
load();
