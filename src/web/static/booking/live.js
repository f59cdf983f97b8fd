// Live updates: the calendar's SSE stream (EventSource reconnects with Last-Event-ID itself).

const TYPES = ["slot.held", "slot.booked", "slot.released", "availability.changed", "resync"];

/**
 * Subscribe to `url`; `onEvent(type, data)` for each event, `onState("live"|"reconnecting")`.
 * After a dropped connection comes back, `onEvent("resync", {})` makes the page refetch,
 * which also covers a server that could not replay what was missed.
 */
export function subscribe(url, onEvent, onState) {
  if (typeof EventSource === "undefined") return null;
  const source = new EventSource(url);
  let dropped = false;
  source.addEventListener("open", () => {
    onState("live");
    if (dropped) onEvent("resync", {});
    dropped = false;
  });
  source.addEventListener("error", () => {
    dropped = true;
    onState("reconnecting");
  });
  for (const type of TYPES) {
    source.addEventListener(type, (e) => {
      let data = {};
      try {
        data = e.data ? JSON.parse(e.data) : {};
      } catch {
        data = {};
      }
      onEvent(type, data);
    });
  }
  return source;
}
