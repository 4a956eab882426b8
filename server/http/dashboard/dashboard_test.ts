import assert from "node:assert/strict";
import { Broker } from "../../../core/mod.ts";
import { createManagementApp } from "../app.ts";
import { ASSETS } from "./_assets.ts";
import { generate } from "../../../scripts/gen_dashboard.ts";

function app() {
  const broker = new Broker();
  broker.users.put("admin", "pw", { tags: ["administrator"] });
  return createManagementApp(broker);
}

Deno.test("_assets.ts embeds the files now in assets/ (run `deno task gen:dashboard` after editing one)", async () => {
  const current = await Deno.readTextFile(new URL("./_assets.ts", import.meta.url));
  assert.ok(
    current === await generate(),
    "server/http/dashboard/_assets.ts is out of date: deno task gen:dashboard",
  );
});

Deno.test("dashboardRoutes() serves the page at / without login, with a strict CSP and no framing", async () => {
  const res = await app().request("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(res.headers.get("x-frame-options"), "DENY");
  const html = await res.text();
  assert.match(html, /<script type="module" src="dashboard\/app\.js"><\/script>/);
  // The API stays behind basic auth.
  assert.equal((await app().request("/api/overview")).status, 401);
});

Deno.test("dashboardRoutes() serves each asset with its type and an ETag, 304 when unchanged, 404 otherwise", async () => {
  const a = app();
  for (const name of Object.keys(ASSETS)) {
    const res = await a.request(`/dashboard/${name}`);
    assert.equal(res.status, 200, name);
    assert.equal(res.headers.get("content-type"), ASSETS[name].type);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(await res.text(), ASSETS[name].body);
    const etag = res.headers.get("etag");
    assert.ok(etag);
    const again = await a.request(`/dashboard/${name}`, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), "");
  }
  const missing = await a.request("/dashboard/nope.js");
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: "Object Not Found", reason: "Not Found" });
  assert.equal((await a.request("/dashboard/..%2Fmod.ts")).status, 404);
});

Deno.test("dashboard assets: every imported module is embedded, and no script writes HTML from strings", () => {
  const scripts = Object.keys(ASSETS).filter((n) => n.endsWith(".js"));
  assert.ok(scripts.includes("app.js"));
  for (const name of scripts) {
    const body = ASSETS[name].body;
    for (const m of body.matchAll(/from "\.\/([^"]+)"/g)) {
      assert.ok(m[1] in ASSETS, `${name} imports ${m[1]}`);
    }
    // Every broker- or user-provided string reaches the page as text (XSS).
    assert.doesNotMatch(
      body,
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/,
      name,
    );
  }
});
