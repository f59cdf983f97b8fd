// The manage page's "Choose another time": the booking page's live slot board, then an
// inline confirmation, then the public reschedule call with the manage token.
import { call, problemCode, retryAfter } from "./api.js";
import { addDays, dateKey, longDate, setZoneNames, shortDay, timeText, uses12Hours } from "./format.js";
import { _ } from "./i18n.js";
import { subscribe } from "./live.js";
import { SlotBoard } from "./slots.js";

const config = JSON.parse(document.getElementById("reschedule-config").textContent);
const $ = (id) => document.getElementById(id);
setZoneNames(config.zoneNames);
const zone = config.zone;
const today = () => dateKey(Date.now(), zone);
let start = today();
let chosen = null;

function announce(text) {
  $("status").textContent = "";
  setTimeout(() => { $("status").textContent = text; }, 60);
}

function showAlert(text) {
  $("alert").textContent = text;
  $("alert").hidden = !text;
  if (text) $("alert").focus();
}

const board = new SlotBoard({
  api: config.api, calendarId: config.calendarId, container: $("days"), onPick: pick,
});
board.onRender((count) => { $("no-slots").hidden = count > 0; });

function load() {
  if (start < today()) start = today();
  $("prev-week").disabled = start <= today();
  $("range-label").textContent = `${shortDay(start)} – ${shortDay(addDays(start, 6))}`;
  return board.show({ start, zone, specialistId: "" });
}

function slotText(slot) {
  return `${longDate(slot.startMs, zone)}, ${timeText(slot.startMs, zone)}–${timeText(slot.endMs, zone)}`;
}

function pick(slot) {
  if (!slot) return;
  if (new Date(slot.startMs).toISOString() === new Date(config.currentStart).toISOString()) {
    showAlert(_("That is your current time. Please choose another one."));
    return;
  }
  chosen = slot;
  showAlert("");
  $("new-time").textContent = slotText(slot);
  $("step-slots").hidden = true;
  $("step-confirm").hidden = false;
  $("confirm-heading").focus();
}

function backToSlots(message) {
  chosen = null;
  $("step-confirm").hidden = true;
  $("step-slots").hidden = false;
  if (message) showAlert(message); else $("slots-heading").focus();
  board.refreshAll();
}

async function confirmMove() {
  if (!chosen) return;
  const button = $("confirm-move");
  button.disabled = true;
  button.textContent = _("Moving…");
  const result = await call(`${config.api}/appointments/${config.appointmentId}/reschedule`, {
    method: "POST",
    body: { version: config.version, start: new Date(chosen.startMs).toISOString() },
    headers: { "X-Manage-Token": config.token },
  });
  button.disabled = false;
  button.textContent = _("Move my appointment");
  if (result.ok) {
    location.assign(`${config.back}&change=moved#changes`);
    return;
  }
  const code = problemCode(result);
  if (code === "slot_unavailable" || code === "invalid_slot") {
    backToSlots(_("Sorry, that time was just taken. Please choose another time."));
  } else if (code === "version_conflict" || code === "cancellation_cutoff_passed") {
    location.assign(`${config.back}&change=${code}#changes`);
  } else if (result.status === 429) {
    backToSlots(_("Too many attempts. Please wait {seconds} seconds and try again.", { seconds: retryAfter(result) }));
  } else {
    backToSlots(_("We could not move your appointment. Please try again."));
  }
}

$("confirm-move").addEventListener("click", confirmMove);
$("other-time").addEventListener("click", () => backToSlots(""));
const showing = () => announce(_("Showing {range}.", { range: $("range-label").textContent }));
$("prev-week").addEventListener("click", () => { start = addDays(start, -7); load(); showing(); });
$("next-week").addEventListener("click", () => { start = addDays(start, 7); load(); showing(); });

subscribe(
  `${config.api}/calendars/${config.calendarId}/events`,
  (type, data) => board.handleEvent(type, data),
  (state) => { $("live-status").hidden = state !== "reconnecting"; },
);
$("days").classList.toggle("hour12", uses12Hours);
load();
