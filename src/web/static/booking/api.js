// Calls to the clinic's public JSON API; errors come back as RFC 9457 problems.

/** fetch() that never throws: {ok, status, body, headers}; network failure is status 0. */
export async function call(url, { method = "GET", body, headers = {}, keepalive = false } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, keepalive };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    return { ok: false, status: 0, body: null, headers: new Headers() };
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  return { ok: response.ok, status: response.status, body: data, headers: response.headers };
}

/** The problem's stable `code`, or "" when the response is not a problem. */
export function problemCode(result) {
  return (result.body && typeof result.body === "object" && result.body.code) || "";
}

/** Seconds to wait after a 429 (Retry-After), at least 1. */
export function retryAfter(result) {
  const value = Number(result.headers.get("Retry-After"));
  return Number.isFinite(value) && value > 0 ? Math.ceil(value) : 1;
}

/** Milliseconds to add to Date.now() to get the server's clock (from the Date header). */
export function serverSkew(result) {
  const date = Date.parse(result.headers.get("Date") || "");
  return Number.isFinite(date) ? date - Date.now() : 0;
}
