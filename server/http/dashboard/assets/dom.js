// DOM helpers. Every string from the broker or the user reaches the page as a text node or an
// attribute value set through the DOM, never parsed as HTML: names, payloads and headers
// cannot inject markup. The page's Content-Security-Policy forbids inline scripts as well.

/**
 * Creates an element. `attrs` keys starting with "on" are listeners; `class`, `for` and data
 * attributes are set as attributes; other keys as properties (value, checked, disabled…).
 * Children are nodes, strings (text), numbers, arrays, or null/undefined/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Creates an SVG element; attributes are always set with setAttribute. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/** Set as attributes (the rest as properties; `list`, for one, is a read-only property). */
const ATTRIBUTES = new Set(["class", "for", "role", "title", "list"]);

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (ATTRIBUTES.has(k) || k.startsWith("data-") || k.startsWith("aria-")) {
      el.setAttribute(k, String(v));
    } else if (k === "href") {
      el.setAttribute("href", safeHref(String(v)));
    } else {
      el[k] = v;
    }
  }
}

/** Only in-app links: "#/…" routes and relative paths; anything else becomes "#". */
function safeHref(href) {
  return /^(#|\/|[a-z0-9_.-]+(\/|$))/i.test(href) && !/^\s*javascript:/i.test(href) ? href : "#";
}

/** Appends children (see {@link h}). */
export function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

/** Removes every child of `el`, then appends `children`. */
export function replace(el, ...children) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return append(el, children);
}

/** A notice box: kind "ok", "error" or "info". */
export function notice(kind, ...children) {
  return h("div", { class: "notice " + kind, role: kind === "error" ? "alert" : "status" }, ...children);
}

const intFmt = new Intl.NumberFormat("en-US");
const rateFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

/** An integer with thousands separators; "" for a missing value. */
export function num(n) {
  return typeof n === "number" && Number.isFinite(n) ? intFmt.format(n) : "";
}

/** A rate per second, e.g. "1,234.5/s"; "" for a missing value. */
export function rate(n) {
  return typeof n === "number" && Number.isFinite(n) ? rateFmt.format(n) + "/s" : "";
}

/** Bytes in B/KiB/MiB/GiB. */
export function bytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
}

/** Reads `a.b.c` from an object; undefined when a step is missing. */
export function pick(obj, path) {
  let v = obj;
  for (const k of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = v[k];
  }
  return v;
}

/** Any JSON value as short readable text (objects as compact JSON). */
export function show(v) {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/** A table of key/value rows from an object (values shown with {@link show}). */
export function kvTable(obj, options = {}) {
  const keys = Object.keys(obj ?? {});
  if (keys.length === 0) return h("span", { class: "muted" }, options.empty ?? "none");
  return h(
    "table",
    { class: "kv" },
    h(
      "tbody",
      null,
      keys.map((k) => h("tr", null, h("th", null, k), h("td", { class: "mono" }, show(obj[k])))),
    ),
  );
}

/** A date from seconds since the epoch (AMQP timestamps), in local time. */
export function when(seconds) {
  if (typeof seconds !== "number") return show(seconds);
  const d = new Date(seconds * 1000);
  return d.toLocaleString();
}

/** Reads a form's named fields as an object of strings (checkboxes as booleans). */
export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === "checkbox" ? el.checked : el.value;
  }
  return out;
}
