// A slot picker that follows the clinic's live updates: on any event the region is
// refetched (the page's URL with ?fragment=1) and the chosen slot kept if still free.
const region = document.querySelector("[data-live-region]");
const announce = document.getElementById("live-announce");
let pending = null;

async function refresh() {
  const chosen = region.querySelector("input[name=slot]:checked")?.value;
  const url = new URL(location.href);
  url.searchParams.set("fragment", "1");
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) return;
  region.innerHTML = await response.text();
  if (chosen) {
    const again = [...region.querySelectorAll("input[name=slot]")].find((i) => i.value === chosen);
    if (again) again.checked = true;
    else announce.textContent = "The slot you chose was just taken. Choose another.";
  }
}

if (region && window.EventSource) {
  const source = new EventSource(`/api/v1/clinics/${region.dataset.clinic}/staff/events`);
  const later = () => { clearTimeout(pending); pending = setTimeout(refresh, 150); };
  for (const type of ["slot.held", "slot.booked", "slot.released", "availability.changed",
                      "appointment.changed", "resync"]) {
    source.addEventListener(type, later);
  }
}
