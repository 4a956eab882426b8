/**
 * The web dashboard: a page at `/` and its files at `/dashboard/*`, plain HTML, CSS and ES
 * modules that talk to the management API (`/api/*`) with the user's basic-auth credentials.
 *
 * The files live in `assets/` and are embedded in `_assets.ts` as strings
 * (`deno task gen:dashboard`), so the broker serves them from its own code: they are inside the
 * single binary, and a host without network needs no CDN. No login is needed to load the files
 * (they hold no data); every API call the page makes is authenticated.
 *
 * Each answer carries an ETag (a hash of the file, computed once), so a browser revalidates with
 * a 304 instead of downloading again. The page is served with a Content-Security-Policy that
 * allows only its own scripts and styles, and may not be framed (clickjacking).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { dashboardRoutes } from "./mod.ts";
 * const app = new Hono();
 * dashboardRoutes(app);
 * const res = await app.request("/");
 * assert.equal(res.status, 200);
 * assert.match(await res.text(), /dashboard\/app\.js/);
 * ```
 *
 * @module
 */

import type { Context, Hono } from "hono";
import { ASSETS } from "./_assets.ts";

/** Headers of the HTML page: only same-origin scripts, styles and requests; never framed. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

/** FNV-1a over the UTF-16 code units: a cheap, stable ETag for a file that never changes at run time. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0") + text.length.toString(16);
}

const etags = new Map<string, string>();

function serve(c: Context, name: string, extra: Readonly<Record<string, string>> = {}): Response {
  const asset = ASSETS[name];
  if (asset === undefined) return c.json({ error: "Object Not Found", reason: "Not Found" }, 404);
  let etag = etags.get(name);
  if (etag === undefined) {
    etag = `"${hash(asset.body)}"`;
    etags.set(name, etag);
  }
  const headers: Record<string, string> = {
    "content-type": asset.type,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    etag,
    ...extra,
  };
  if (c.req.header("if-none-match") === etag) return c.body(null, 304, headers);
  return c.body(asset.body, 200, headers);
}

/**
 * Mounts the dashboard on an app: `GET /` (and `/index.html`) for the page, `GET /dashboard/:file`
 * for its scripts, styles and icon.
 * @param app the management app (any Hono app)
 */
// deno-lint-ignore no-explicit-any
export function dashboardRoutes(app: Hono<any>): void {
  app.get("/", (c) => serve(c, "index.html", PAGE_HEADERS));
  app.get("/index.html", (c) => serve(c, "index.html", PAGE_HEADERS));
  app.get("/dashboard/:file", (c) => {
    const name = c.req.param("file");
    return name === "index.html" ? serve(c, name, PAGE_HEADERS) : serve(c, name);
  });
}
