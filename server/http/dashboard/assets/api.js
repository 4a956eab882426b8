// The management API client: basic auth from the login form, kept in sessionStorage (gone when the
// tab closes, as RabbitMQ's UI does), and JSON requests to the same origin's /api.

const KEY = "warren.auth";

/** An API answer that is not 2xx; `status` is the HTTP status, `reason` RabbitMQ's reason text. */
export class ApiError extends Error {
  constructor(status, error, reason) {
    super(reason || error || "HTTP " + status);
    this.status = status;
    this.error = error;
    this.reason = reason;
  }
}

function b64(text) {
  const utf8 = new TextEncoder().encode(text);
  let bin = "";
  for (const b of utf8) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The saved login, or null. */
export function session() {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

/** Tries a login against /api/whoami; saves it and returns whoami's answer on success. */
export async function login(user, password) {
  const auth = "Basic " + b64(user + ":" + password);
  const me = await request("GET", "/api/whoami", undefined, { auth });
  sessionStorage.setItem(KEY, JSON.stringify({ auth, name: me.name, tags: me.tags }));
  return me;
}

/** Forgets the login. */
export function logout() {
  sessionStorage.removeItem(KEY);
}

/** Called on 401 with a saved login (set by the app: back to the login form). */
let onUnauthorized = () => {};
export function setOnUnauthorized(fn) {
  onUnauthorized = fn;
}

/**
 * Sends a request and returns the parsed JSON body (null for an empty one). Throws ApiError
 * with RabbitMQ's reason for a non-2xx answer.
 */
export async function request(method, path, body, options = {}) {
  const auth = options.auth ?? session()?.auth;
  const headers = { accept: "application/json" };
  if (auth) headers.authorization = auth;
  if (body !== undefined) headers["content-type"] = "application/json";
  Object.assign(headers, options.headers);
  // Relative URL, so the dashboard works behind a path prefix. credentials "omit": the browser
  // adds no cached credentials and never shows its own basic-auth prompt on a 401.
  const res = await fetch(path.replace(/^\//, ""), {
    method,
    headers,
    credentials: "omit",
    cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  if (text !== "") {
    try {
      json = JSON.parse(text);
    } catch {
      json = { error: "bad_response", reason: text.slice(0, 200) };
    }
  }
  if (!res.ok) {
    if (res.status === 401 && !options.auth && session()) onUnauthorized();
    throw new ApiError(res.status, json?.error, json?.reason ?? res.statusText);
  }
  return json;
}

/** A path segment: vhosts and names are percent-encoded ("/" is %2F). */
export function seg(s) {
  return encodeURIComponent(s);
}

/** A query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}
