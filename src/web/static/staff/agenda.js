// Agenda: places appointments by time, draws the now-line, follows live updates over SSE
// (refetching the grid, which carries no data from the event itself) and moves focus with
// the arrow keys. Without JavaScript the agenda is a readable list per specialist.
const root = document.getElementById("agenda");
const announce = document.getElementById("agenda-announce");
const liveState = document.getElementById("live-state");

function layout() {
  const grid = root.querySelector(".day-grid");
  if (!grid) return;
  const hours = Number(grid.dataset.hours);
  grid.classList.add("laid-out");
  for (const body of grid.querySelectorAll(".spec-col .col-body")) {
    body.style.height = `${hours * 5}rem`;
    for (const li of body.querySelectorAll(".appt")) {
      li.style.top = `${li.dataset.top}%`;
      li.style.height = `${li.dataset.height}%`;
    }
  }
  nowLine();
}

function nowLine() {
  for (const old of root.querySelectorAll(".now-line")) old.remove();
  for (const body of root.querySelectorAll(".spec-col .col-body")) {
    const start = Number(body.dataset.startMs);
    const minutes = Number(body.dataset.minutes);
    const offset = (Date.now() - start) / 60000;
    if (offset < 0 || offset > minutes) continue;
    const line = document.createElement("div");
    line.className = "now-line";
    line.setAttribute("aria-hidden", "true");
    line.style.top = `${(100 * offset) / minutes}%`;
    body.appendChild(line);
  }
}

let pending = null;
async function refresh() {
  const url = new URL(location.href);
  url.searchParams.set("fragment", "1");
  const active = document.activeElement;
  const focused = active?.dataset?.appt;
  const cellHref = active?.dataset && "cell" in active.dataset ? active.getAttribute("href") : null;
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const before = root.querySelector(".agenda-grid-wrap")?.dataset.count;
  root.innerHTML = await response.text();
  layout();
  const after = root.querySelector(".agenda-grid-wrap")?.dataset.count;
  if (focused) root.querySelector(`[data-appt="${focused}"]`)?.focus();
  else if (cellHref) [...root.querySelectorAll("a[data-cell]")].find((a) => a.getAttribute("href") === cellHref)?.focus();
  announce.textContent = before === after ? "Agenda updated." : `Agenda updated: ${after} appointments.`;
}
function scheduleRefresh() {
  clearTimeout(pending);
  pending = setTimeout(refresh, 150);
}

function follow() {
  if (!window.EventSource) return;
  const source = new EventSource(`/api/v1/clinics/${root.dataset.clinic}/staff/events`);
  let dropped = false;
  source.addEventListener("open", () => {
    liveState.textContent = "Live updates: on";
    liveState.classList.add("ok");
    if (dropped) scheduleRefresh(); // whatever happened while disconnected
    dropped = false;
  });
  source.addEventListener("error", () => {
    liveState.textContent = "Live updates: reconnecting…";
    liveState.classList.remove("ok");
    dropped = true;
  });
  for (const type of ["slot.held", "slot.booked", "slot.released", "availability.changed",
                      "appointment.changed", "resync"]) {
    source.addEventListener(type, scheduleRefresh);
  }
}

function columns() {
  return [...root.querySelectorAll(".spec-col")].map((c) => [...c.querySelectorAll("[data-appt]")]);
}

// Week view: the cell of the next row (up/down) or column (left/right) that has appointments.
function weekTarget(link, key) {
  const td = link.closest("td");
  const rows = [...root.querySelectorAll(".week-grid tbody tr")];
  let r = rows.indexOf(td.parentElement);
  let c = td.cellIndex;
  const dr = key === "ArrowDown" ? 1 : key === "ArrowUp" ? -1 : 0;
  const dc = key === "ArrowRight" ? 1 : key === "ArrowLeft" ? -1 : 0;
  for (;;) {
    r += dr;
    c += dc;
    const row = rows[r];
    if (!row || c < 1 || c >= row.cells.length) return null;
    const found = row.cells[c].querySelector("a[data-cell]");
    if (found) return found;
  }
}

function dayTarget(link, key) {
  const cols = columns();
  const ci = cols.findIndex((c) => c.includes(link));
  const ri = cols[ci].indexOf(link);
  if (key === "ArrowDown") return cols[ci][ri + 1];
  if (key === "ArrowUp") return cols[ci][ri - 1];
  const step = key === "ArrowRight" ? 1 : -1;
  for (let c = ci + step; c >= 0 && c < cols.length; c += step) {
    if (cols[c].length) return cols[c][Math.min(ri, cols[c].length - 1)];
  }
  return null;
}

root.addEventListener("keydown", (event) => {
  if (!["ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight"].includes(event.key)) return;
  const link = event.target.closest?.("[data-appt], a[data-cell]");
  if (!link) return;
  const target = link.dataset.appt ? dayTarget(link, event.key) : weekTarget(link, event.key);
  if (target) {
    event.preventDefault();
    target.focus();
  }
});

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest?.("input, select, textarea")) return;
  const link = document.querySelector(`[data-key="${event.key}"]`);
  if (link) link.click();
});

// Offer the browser's own zone next to the clinic's.
const select = document.getElementById("agenda-tz");
const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (select && mine && ![...select.options].some((o) => o.value === mine)) {
  select.add(new Option(`My time (${mine})`, mine));
}

layout();
setInterval(nowLine, 60000);
follow();
