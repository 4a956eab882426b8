// The management app through Hono's request interface (no sockets): permissions, rates, and
// the speed of a paged /api/queues with 10,000 queues.

import assert from "node:assert/strict";
import { Broker, MessageStats } from "../../core/mod.ts";
import { DEFAULT_PLUGINS } from "../../plugins/mod.ts";
import { createManagementApp } from "./app.ts";
import { ratesOf, WINDOW_MS } from "./rates.ts";

function setup() {
  const broker = new Broker();
  for (const p of DEFAULT_PLUGINS) broker.register(p);
  broker.addVHost("/");
  broker.users.put("admin", "a", { tags: ["administrator"] });
  broker.users.put("m", "m", { tags: ["management"] });
  broker.permissions.set("admin", "/", { configure: ".*", write: ".*", read: ".*" });
  broker.permissions.set("m", "/", { configure: "^m-", write: ".*", read: ".*" });
  const app = createManagementApp(broker, { node: "warren@test" });
  const req = async (method: string, path: string, user = "admin", body?: unknown) => {
    const password = user === "admin" ? "a" : "m";
    const res = await app.request(path, {
      method,
      headers: { authorization: `Basic ${btoa(`${user}:${password}`)}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }, { remoteAddress: "10.0.0.7" });
    const text = await res.text();
    return { status: res.status, json: text === "" ? null : JSON.parse(text) };
  };
  return { broker, app, req };
}

Deno.test("app: permissions — PUT/GET/DELETE, vhost visibility and configure patterns", async () => {
  const { broker, req } = setup();
  assert.equal((await req("PUT", "/api/vhosts/other")).status, 201);
  // The creator got full permissions in the new vhost, as in RabbitMQ.
  assert.deepEqual((await req("GET", "/api/permissions/other/admin")).json, {
    user: "admin",
    vhost: "other",
    configure: ".*",
    write: ".*",
    read: ".*",
  });
  assert.equal((await req("PUT", "/api/queues/other/secret", "admin", {})).status, 201);
  // m has no permission in "other": it does not see it, and cannot act in it.
  assert.deepEqual(((await req("GET", "/api/vhosts", "m")).json as { name: string }[]).map((v) => v.name), [
    "/",
  ]);
  assert.deepEqual((await req("GET", "/api/queues", "m")).json, []);
  const refused = await req("GET", "/api/queues/other", "m");
  assert.equal(refused.status, 401);
  assert.deepEqual(refused.json, {
    error: "not_authorised",
    reason: "User not authorised to access virtual host",
  });
  // In "/", its configure pattern is ^m-.
  assert.equal((await req("PUT", "/api/queues/%2F/m-ok", "m", {})).status, 201);
  const denied = await req("PUT", "/api/queues/%2F/nope", "m", {});
  assert.equal(denied.status, 401);
  assert.deepEqual(denied.json, { error: "not_authorised", reason: "Access refused." });

  const set = await req("PUT", "/api/permissions/other/m", "admin", {
    configure: ".*",
    write: "",
    read: ".*",
  });
  assert.equal(set.status, 201);
  assert.equal(
    (await req("PUT", "/api/permissions/other/m", "admin", { configure: ".*", write: "", read: ".*" }))
      .status,
    204,
  );
  assert.deepEqual(broker.permissions.get("m", "other"), {
    user: "m",
    vhost: "other",
    configure: ".*",
    write: "",
    read: ".*",
  });
  assert.equal((await req("GET", "/api/queues/other", "m")).status, 200);
  const bad = await req("PUT", "/api/permissions/other/m", "admin", { configure: "(", write: "", read: "" });
  assert.equal(bad.status, 400);
  assert.equal(
    (await req("PUT", "/api/permissions/nope/m", "admin", { configure: "", write: "", read: "" })).status,
    400,
  );
  const all = (await req("GET", "/api/permissions")).json as { user: string; vhost: string }[];
  assert.deepEqual(all.map((p) => `${p.user}@${p.vhost}`), ["admin@/", "admin@other", "m@/", "m@other"]);
  assert.equal((await req("DELETE", "/api/permissions/other/m")).status, 204);
  assert.equal((await req("DELETE", "/api/permissions/other/m")).status, 404);
  assert.equal((await req("GET", "/api/permissions/other/m")).status, 404);
});

Deno.test("app: loopback-only users are refused from other addresses", async () => {
  const { broker, app } = setup();
  broker.users.put("guest", "guest", { tags: ["administrator"], loopbackOnly: true });
  const auth = { authorization: `Basic ${btoa("guest:guest")}` };
  const far = await app.request("/api/whoami", { headers: auth }, { remoteAddress: "10.0.0.7" });
  assert.equal(far.status, 401);
  assert.deepEqual(await far.json(), { error: "not_authorized", reason: "Login failed" });
  const near = await app.request("/api/whoami", { headers: auth }, { remoteAddress: "127.0.0.1" });
  assert.equal(near.status, 200);
});

Deno.test("rates: fixed windows, one record per counter object", () => {
  const s = new MessageStats();
  assert.deepEqual(ratesOf(s, 0).slice(0, 1), [0]);
  s.publish += 50;
  assert.equal(ratesOf(s, WINDOW_MS - 1)[0], 0, "the window is not over yet");
  assert.equal(ratesOf(s, WINDOW_MS)[0], 10, "50 in 5 s");
  assert.equal(ratesOf(s, WINDOW_MS + 1000)[0], 10, "kept until the next window closes");
  assert.equal(ratesOf(s, 2 * WINDOW_MS)[0], 0, "nothing published in the second window");
});

Deno.test("app: /api/queues with 10,000 queues answers a page in under 200 ms", async () => {
  const { broker, req } = setup();
  const v = broker.vhosts.get("/")!;
  for (let i = 0; i < 10_000; i++) {
    v.declareQueue({
      name: `q-${String(i).padStart(5, "0")}`,
      passive: false,
      durable: true,
      exclusive: false,
      autoDelete: false,
      args: {},
      owner: null,
    });
  }
  await req("GET", "/api/queues?page=1&page_size=100"); // warm up
  const times: number[] = [];
  for (
    const path of [
      "/api/queues?page=1&page_size=100",
      "/api/queues?page=50&page_size=100&name=q-0&use_regex=false",
      "/api/queues/%2F?page=3&page_size=500&sort=messages&sort_reverse=true",
      "/api/queues?page=1&page_size=100&columns=name,messages",
      "/api/queues?page=1&page_size=100&sort=message_stats.publish_details.rate&sort_reverse=true",
      "/api/queues?page=1&page_size=100&sort=messages_details.rate",
    ]
  ) {
    const t0 = performance.now();
    const r = await req("GET", path);
    times.push(performance.now() - t0);
    assert.equal(r.status, 200);
    assert.equal((r.json as { total_count: number }).total_count, 10_000);
  }
  const first = (await req("GET", "/api/queues?page=2&page_size=100")).json as {
    items: { name: string }[];
    page_count: number;
  };
  assert.equal(first.items[0].name, "q-00100");
  assert.equal(first.page_count, 100);
  for (const t of times) {
    assert.ok(
      t < 200,
      `page answered in ${t.toFixed(1)} ms: ${times.map((x) => x.toFixed(1))}`,
    );
  }
});
