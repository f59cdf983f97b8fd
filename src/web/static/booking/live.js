// Live updates: the calendar's SSE stream (EventSource reconnects with Last-Event-ID itself).

const TYPES = ["slot.held", "slot.booked", "slot.released", "availability.changed", "resync"];
const MAX_DELAY_MS = 30_000;

/**
 * Subscribe to `url`; `onEvent(type, data)` for each event, `onState("live"|"reconnecting")`.
 * After a dropped connection comes back, `onEvent("resync", {})` makes the page refetch,
 * which also covers a server that could not replay what was missed. EventSource retries a
 * dropped stream by itself, but gives up for good on an HTTP error (a 502 from a proxy during
 * a deploy): then a new one is opened, waiting 1 s, 2 s, 4 s … up to 30 s between attempts.
 * Returns {close()}.
 */
export function subscribe(url, onEvent, onState) {
  if (typeof EventSource === "undefined") return null;
  let source = null;
  let dropped = false;
  let closed = false;
  let delay = 1000;
  let timer = null;

  const open = () => {
    timer = null;
    if (closed) return;
    source = new EventSource(url);
    source.addEventListener("open", () => {
      onState("live");
      delay = 1000;
      if (dropped) onEvent("resync", {});
      dropped = false;
    });
    source.addEventListener("error", () => {
      dropped = true;
      onState("reconnecting");
      if (source.readyState === EventSource.CLOSED && !timer && !closed) {
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, MAX_DELAY_MS);
      }
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
  };

  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (source) source.close();
    },
  };
}
