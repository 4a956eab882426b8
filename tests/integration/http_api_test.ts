// The management HTTP API over real HTTP against a broker from createBroker(), with the AMQP
// side checked through amqplib. Status codes and JSON bodies are RabbitMQ 3.10's (probed).

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { closeReason } from "./_clients.ts";
import { httpTest, until } from "./_http.ts";

httpTest("http: authentication and tag-based access, as RabbitMQ answers them", async (b) => {
  const none = await b.req("GET", "/api/overview", { user: null });
  assert.equal(none.status, 401);
  assert.equal(none.text, "");
  assert.equal(none.headers.get("www-authenticate"), 'Basic realm="RabbitMQ Management"');

  const wrong = await b.req("GET", "/api/overview", { user: "nobody" });
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.json, { error: "not_authorized", reason: "Login failed" });

  const plain = await b.req("GET", "/api/queues", { user: "plain" });
  assert.equal(plain.status, 401);
  assert.deepEqual(plain.json, { error: "not_authorised", reason: "Not management user" });

  for (const user of ["mon", "mgmt"]) {
    const r = await b.req("GET", "/api/users", { user });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { error: "not_authorised", reason: "Not administrator user" });
  }
  const mgmtNodes = await b.req("GET", "/api/nodes", { user: "mgmt" });
  assert.equal(mgmtNodes.status, 401);
  assert.equal((await b.req("GET", "/api/nodes", { user: "mon" })).status, 200);

  assert.deepEqual((await b.req("GET", "/api/whoami", { user: "mgmt" })).json, {
    name: "mgmt",
    tags: ["management"],
  });
  assert.deepEqual((await b.req("GET", "/api/whoami", { user: "guest" })).json, {
    name: "guest",
    tags: ["administrator"],
  });

  // A monitor may read but not change things.
  const put = await b.req("PUT", "/api/vhosts/v-mon", { user: "mon" });
  assert.equal(put.status, 401);
  assert.deepEqual(put.json, { error: "not_authorised", reason: "Not administrator user" });
});

httpTest("http: 404 and 405 as RabbitMQ, and bad bodies", async (b) => {
  assert.deepEqual((await b.req("GET", "/api/nothing")).json, {
    error: "Object Not Found",
    reason: "Not Found",
  });
  assert.equal((await b.req("GET", "/api/queues/%2F/missing")).status, 404);
  assert.equal((await b.req("GET", "/api/queues/missing-vhost")).status, 404);
  const del = await b.req("DELETE", "/api/overview");
  assert.equal(del.status, 405);
  assert.equal(del.headers.get("allow"), "HEAD, GET, OPTIONS");
  const post = await b.req("POST", "/api/queues/%2F/q");
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "HEAD, GET, PUT, DELETE, OPTIONS");

  const badJson = await b.req("PUT", "/api/queues/%2F/q", { raw: "{bad json" });
  assert.equal(badJson.status, 400);
  assert.deepEqual(badJson.json, { error: "bad_request", reason: "not_json" });
  const notObject = await b.req("PUT", "/api/queues/%2F/q", { raw: "[1,2]" });
  assert.deepEqual(notObject.json, { error: "bad_request", reason: "not_json" });
  const badType = await b.req("PUT", "/api/queues/%2F/q", { body: { durable: "yes" } });
  assert.equal(badType.status, 400);
  assert.deepEqual(badType.json, { error: "bad_request", reason: ["not_boolean", "yes"] });
  const huge = await b.req("PUT", "/api/queues/%2F/q", { raw: `{"x":"${"a".repeat(21 * 1024 * 1024)}"}` });
  assert.equal(huge.status, 413);
  assert.equal((huge.json as { error: string }).error, "bad_request");
  // Names with path-like characters are only names.
  const odd = await b.req("PUT", `/api/queues/%2F/${encodeURIComponent("../../etc/passwd")}`, { body: {} });
  assert.equal(odd.status, 201);
  assert.ok(b.running.broker.vhosts.get("/")!.queues.has("../../etc/passwd"));
  // The AMQP side is unaffected by any of it.
  const conn = await b.amqp();
  const ch = await conn.createChannel();
  await ch.checkQueue("../../etc/passwd");
});

httpTest("http: vhosts and users; deleting a vhost closes its connections with 320", async (b) => {
  assert.equal((await b.req("PUT", "/api/vhosts/v1")).status, 201);
  assert.equal((await b.req("PUT", "/api/vhosts/v1")).status, 204);
  const list = (await b.req("GET", "/api/vhosts")).json as { name: string }[];
  assert.deepEqual(list.map((v) => v.name), ["/", "v1"]);
  const one = (await b.req("GET", "/api/vhosts/v1")).json as Record<string, unknown>;
  assert.equal(one.name, "v1");
  assert.equal(one.messages, 0);

  // admin created v1, so it may open it.
  const conn = await b.amqp("admin", "v1");
  const closed = new Promise<unknown>((r) => conn.on("close", r));
  assert.equal((await b.req("DELETE", "/api/vhosts/v1")).status, 204);
  const reason = closeReason(await closed);
  assert.equal(reason.code, 320);
  assert.equal((await b.req("DELETE", "/api/vhosts/v1")).status, 404);
  assert.equal((await b.req("GET", "/api/vhosts/v1")).status, 404);

  assert.equal(
    (await b.req("PUT", "/api/users/u1", { body: { password: "pw1", tags: "monitoring" } })).status,
    201,
  );
  assert.equal(
    (await b.req("PUT", "/api/users/u1", { body: { password: "pw1", tags: "monitoring" } })).status,
    204,
  );
  const missingTags = await b.req("PUT", "/api/users/u2", { body: {} });
  assert.deepEqual(missingTags.json, { error: "bad_request", reason: "tags_not_present" });
  const u1 = (await b.req("GET", "/api/users/u1")).json as Record<string, unknown>;
  assert.equal(u1.name, "u1");
  assert.deepEqual(u1.tags, ["monitoring"]);
  assert.equal(u1.hashing_algorithm, "rabbit_password_hashing_sha256");
  assert.deepEqual(u1.limits, {});
  const who = await fetch(`${b.base}/api/whoami`, { headers: { authorization: `Basic ${btoa("u1:pw1")}` } });
  assert.deepEqual(await who.json(), { name: "u1", tags: ["monitoring"] });
  assert.equal((await b.req("DELETE", "/api/users/u1")).status, 204);
  assert.equal((await b.req("DELETE", "/api/users/u1")).status, 404);
  assert.equal((await b.req("GET", "/api/users/u1")).status, 404);
  const names = ((await b.req("GET", "/api/users")).json as { name: string }[]).map((u) => u.name);
  assert.deepEqual(names, ["admin", "guest", "mgmt", "mon", "plain"]);
});

httpTest("http: queues — declare, inspect, get, purge, delete; AMQP sees the same", async (b) => {
  assert.equal(
    (await b.req("PUT", "/api/queues/%2F/jobs", {
      body: { durable: false, arguments: { "x-message-ttl": 60000 } },
    })).status,
    201,
  );
  assert.equal(
    (await b.req("PUT", "/api/queues/%2F/jobs", {
      body: { durable: false, arguments: { "x-message-ttl": 60000 } },
    })).status,
    204,
  );
  const inequivalent = await b.req("PUT", "/api/queues/%2F/jobs", { body: { durable: true } });
  assert.equal(inequivalent.status, 400);
  assert.deepEqual(inequivalent.json, {
    error: "bad_request",
    reason:
      "inequivalent arg 'durable' for queue 'jobs' in vhost '/': received 'true' but current is 'false'",
  });

  const conn = await b.amqp();
  const ch = await conn.createChannel();
  const ok = await ch.checkQueue("jobs");
  assert.equal(ok.messageCount, 0);
  for (let i = 0; i < 3; i++) {
    ch.sendToQueue("jobs", Buffer.from(`m${i}`), {
      contentType: "text/plain",
      headers: { n: i },
    });
  }
  await until(async () =>
    ((await b.req("GET", "/api/queues/%2F/jobs")).json as { messages: number }).messages === 3
  );
  const q = (await b.req("GET", "/api/queues/%2F/jobs")).json as Record<string, unknown>;
  assert.equal(q.name, "jobs");
  assert.equal(q.vhost, "/");
  assert.equal(q.durable, false);
  assert.deepEqual(q.arguments, { "x-message-ttl": 60000 });
  assert.equal(q.messages_ready, 3);
  assert.equal(q.messages_unacknowledged, 0);
  assert.equal(q.type, "classic");
  assert.equal((q.message_stats as { publish: number }).publish, 3);
  assert.deepEqual(q.consumer_details, []);

  // get with requeue: the same messages stay, now redelivered.
  const got = await b.req("POST", "/api/queues/%2F/jobs/get", {
    body: { count: 2, ackmode: "ack_requeue_true", encoding: "auto", truncate: 50000 },
  });
  assert.equal(got.status, 200);
  assert.deepEqual(got.json, [
    {
      payload_bytes: 2,
      redelivered: false,
      exchange: "",
      routing_key: "jobs",
      message_count: 2,
      properties: { content_type: "text/plain", headers: { n: 0 } },
      payload: "m0",
      payload_encoding: "string",
    },
    {
      payload_bytes: 2,
      redelivered: false,
      exchange: "",
      routing_key: "jobs",
      message_count: 1,
      properties: { content_type: "text/plain", headers: { n: 1 } },
      payload: "m1",
      payload_encoding: "string",
    },
  ]);
  const again = (await b.req("POST", "/api/queues/%2F/jobs/get", {
    body: { count: 1, ackmode: "ack_requeue_false", encoding: "base64" },
  })).json as Record<string, unknown>[];
  assert.equal(again.length, 1);
  assert.equal(again[0].redelivered, true);
  assert.equal(again[0].payload, btoa("m0"));
  assert.equal(again[0].payload_encoding, "base64");
  assert.equal((await ch.checkQueue("jobs")).messageCount, 2);

  const badGet = await b.req("POST", "/api/queues/%2F/jobs/get", {
    body: { ackmode: "ack_requeue_true", encoding: "auto" },
  });
  assert.deepEqual(badGet.json, { error: "bad_request", reason: "[{key_missing,count}]" });
  const badMode = await b.req("POST", "/api/queues/%2F/jobs/get", {
    body: { count: 1, ackmode: "bogus", encoding: "auto" },
  });
  assert.equal(badMode.status, 400);

  assert.equal((await b.req("DELETE", "/api/queues/%2F/jobs/contents")).status, 204);
  assert.equal((await ch.checkQueue("jobs")).messageCount, 0);
  const empty = await b.req("POST", "/api/queues/%2F/jobs/get", {
    body: { count: 1, ackmode: "ack_requeue_false", encoding: "auto" },
  });
  assert.deepEqual(empty.json, []);

  // Consumers show up.
  await ch.consume("jobs", () => {}, { consumerTag: "ctag-1" });
  const consumers = (await b.req("GET", "/api/consumers")).json as Record<string, unknown>[];
  assert.equal(consumers.length, 1);
  assert.equal(consumers[0].consumer_tag, "ctag-1");
  assert.deepEqual(consumers[0].queue, { name: "jobs", vhost: "/" });
  assert.equal(consumers[0].ack_required, true);
  assert.equal(((await b.req("GET", "/api/queues/%2F/jobs")).json as { consumers: number }).consumers, 1);

  // if-unused refuses while a consumer is there.
  const inUse = await b.req("DELETE", "/api/queues/%2F/jobs?if-unused=true");
  assert.equal(inUse.status, 400);
  assert.deepEqual(inUse.json, { error: "bad_request", reason: "queue 'jobs' in vhost '/' in use" });
  const cancelled = new Promise<void>((resolve) => {
    ch.on("error", () => resolve());
    ch.on("close", () => resolve());
    setTimeout(resolve, 200);
  });
  assert.equal((await b.req("DELETE", "/api/queues/%2F/jobs")).status, 204);
  await cancelled;
  assert.equal((await b.req("DELETE", "/api/queues/%2F/jobs")).status, 404);
  assert.ok(!b.running.broker.vhosts.get("/")!.queues.has("jobs"));
});

httpTest("http: exchanges and publish", async (b) => {
  assert.equal(
    (await b.req("PUT", "/api/exchanges/%2F/logs", { body: { type: "fanout", durable: false } })).status,
    201,
  );
  assert.equal(
    (await b.req("PUT", "/api/exchanges/%2F/logs", { body: { type: "fanout", durable: false } })).status,
    204,
  );
  const unknown = await b.req("PUT", "/api/exchanges/%2F/x", { body: { type: "nope" } });
  assert.deepEqual(unknown.json, { error: "bad_request", reason: "unknown exchange type 'nope'" });
  const amq = await b.req("DELETE", "/api/exchanges/%2F/amq.direct");
  assert.equal(amq.status, 401);
  assert.deepEqual(amq.json, { error: "not_authorised", reason: "Access refused." });
  assert.equal((await b.req("DELETE", "/api/exchanges/%2F/nope")).status, 404);
  const logs = (await b.req("GET", "/api/exchanges/%2F/logs")).json;
  assert.deepEqual(logs, {
    arguments: {},
    auto_delete: false,
    durable: false,
    incoming: [],
    internal: false,
    name: "logs",
    outgoing: [],
    type: "fanout",
    user_who_performed_action: "",
    vhost: "/",
  });
  const def = (await b.req("GET", "/api/exchanges/%2F/amq.default")).json as { name: string; type: string };
  assert.deepEqual([def.name, def.type], ["", "direct"]);
  const names = ((await b.req("GET", "/api/exchanges/%2F")).json as { name: string }[]).map((e) => e.name);
  assert.deepEqual(names, ["", "amq.direct", "amq.fanout", "amq.headers", "amq.match", "amq.topic", "logs"]);

  const conn = await b.amqp();
  const ch = await conn.createChannel();
  await ch.assertQueue("sink", { durable: false });
  await ch.bindQueue("sink", "logs", "");
  const pub = (body: unknown, ex = "logs") => b.req("POST", `/api/exchanges/%2F/${ex}/publish`, { body });
  assert.deepEqual(
    (await pub({
      properties: { delivery_mode: 2, headers: { h: "v" } },
      routing_key: "",
      payload: "hello",
      payload_encoding: "string",
    })).json,
    { routed: true },
  );
  assert.deepEqual(
    (await pub(
      { properties: {}, routing_key: "nowhere", payload: "AAEC", payload_encoding: "base64" },
      "amq.default",
    )).json,
    { routed: false },
  );
  const missingEncoding = await pub({ properties: {}, routing_key: "", payload: "x" });
  assert.deepEqual(missingEncoding.json, {
    error: "bad_request",
    reason: "[{key_missing,payload_encoding}]",
  });
  const noExchange = await pub(
    { properties: {}, routing_key: "", payload: "x", payload_encoding: "string" },
    "missing",
  );
  assert.deepEqual(noExchange.json, {
    error: "bad_request",
    reason: "404 NOT_FOUND - no exchange 'missing' in vhost '/'",
  });
  const m = await ch.get("sink", { noAck: true });
  assert.ok(m);
  assert.equal(new TextDecoder().decode(m.content), "hello");
  assert.equal(m.properties.deliveryMode, 2);
  assert.deepEqual(m.properties.headers, { h: "v" });
  assert.equal((await b.req("DELETE", "/api/exchanges/%2F/logs?if-unused=true")).status, 400);
  assert.equal((await b.req("DELETE", "/api/exchanges/%2F/logs")).status, 204);
});

httpTest("http: bindings — list, create with Location, delete by properties key", async (b) => {
  await b.req("PUT", "/api/queues/%2F/bq", { body: { durable: false } });
  await b.req("PUT", "/api/exchanges/%2F/src", { body: { type: "topic" } });
  await b.req("PUT", "/api/exchanges/%2F/dst", { body: { type: "fanout" } });
  const created = await b.req("POST", "/api/bindings/%2F/e/src/q/bq", {
    body: { routing_key: "a.#", arguments: {} },
  });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get("location"), "bq/a.%23");
  const withArgs = await b.req("POST", "/api/bindings/%2F/e/src/q/bq", {
    body: { routing_key: "k", arguments: { x: 1 } },
  });
  assert.equal(withArgs.status, 201);
  assert.equal(
    (await b.req("POST", "/api/bindings/%2F/e/src/e/dst", { body: { routing_key: "r" } })).status,
    201,
  );
  assert.equal((await b.req("POST", "/api/bindings/%2F/e/src/q/missing", { body: {} })).status, 404);
  assert.equal(
    (await b.req("POST", "/api/bindings/%2F/e/amq.default/q/bq", { body: { routing_key: "x" } })).status,
    401,
  );

  const between = (await b.req("GET", "/api/bindings/%2F/e/src/q/bq")).json as Record<string, unknown>[];
  assert.deepEqual(between[0], {
    source: "src",
    vhost: "/",
    destination: "bq",
    destination_type: "queue",
    routing_key: "a.#",
    arguments: {},
    properties_key: "a.%23",
  });
  assert.equal(between.length, 2);
  const queueBindings = (await b.req("GET", "/api/queues/%2F/bq/bindings")).json as { source: string }[];
  assert.deepEqual(queueBindings.map((x) => x.source), ["", "src", "src"]);
  const all = (await b.req("GET", "/api/bindings/%2F")).json as { source: string; destination: string }[];
  assert.deepEqual(all.map((x) => `${x.source}->${x.destination}`), [
    "->bq",
    "src->dst",
    "src->bq",
    "src->bq",
  ]);

  // The routing works over AMQP.
  const conn = await b.amqp();
  const ch = await conn.createChannel();
  ch.publish("src", "a.b", Buffer.from("routed"));
  await until(async () => (await ch.checkQueue("bq")).messageCount === 1);

  const props = encodeURIComponent(String(between[1].properties_key));
  assert.equal((await b.req("GET", `/api/bindings/%2F/e/src/q/bq/${props}`)).status, 200);
  assert.equal((await b.req("DELETE", `/api/bindings/%2F/e/src/q/bq/${props}`)).status, 204);
  assert.equal((await b.req("DELETE", `/api/bindings/%2F/e/src/q/bq/${props}`)).status, 404);
  assert.equal((await b.req("DELETE", "/api/bindings/%2F/e/src/q/bq/a.%2523")).status, 204);
  assert.deepEqual((await b.req("GET", "/api/bindings/%2F/e/src/q/bq")).json, []);
  assert.equal((await b.req("DELETE", "/api/bindings/%2F/e/src/e/dst/r")).status, 204);
});

httpTest("http: connections and channels; DELETE closes with 320 CONNECTION_FORCED", async (b) => {
  const conn = await b.amqp("mgmt");
  const ch = await conn.createChannel();
  await ch.assertQueue("", { exclusive: true });
  await until(async () => ((await b.req("GET", "/api/connections")).json as unknown[]).length === 1);
  const conns = (await b.req("GET", "/api/connections")).json as Record<string, unknown>[];
  const c = conns[0];
  assert.equal(c.user, "mgmt");
  assert.equal(c.vhost, "/");
  assert.equal(c.state, "running");
  assert.equal(c.channels, 1);
  assert.equal(c.protocol, "AMQP 0-9-1");
  assert.equal(c.peer_host, "127.0.0.1");
  assert.equal((c.client_properties as { product: string }).product, "amqplib");
  assert.equal(c.port, b.running.port);

  // mgmt sees its own connection; another management user would not.
  assert.equal(((await b.req("GET", "/api/connections", { user: "mgmt" })).json as unknown[]).length, 1);

  const channels = (await b.req("GET", "/api/channels")).json as Record<string, unknown>[];
  assert.equal(channels.length, 1);
  assert.equal(channels[0].name, `${c.name} (1)`);
  assert.equal(channels[0].number, 1);
  assert.deepEqual(channels[0].connection_details, {
    name: c.name,
    peer_host: "127.0.0.1",
    peer_port: c.peer_port,
  });

  const one = await b.req("GET", `/api/connections/${encodeURIComponent(String(c.name))}`);
  assert.equal((one.json as { name: string }).name, c.name);
  const closed = new Promise<unknown>((r) => conn.on("close", r));
  const del = await b.req("DELETE", `/api/connections/${encodeURIComponent(String(c.name))}`);
  assert.equal(del.status, 204);
  const reason = closeReason(await closed);
  assert.equal(reason.code, 320);
  assert.match(reason.text, /CONNECTION_FORCED - Closed via management plugin/);
  await until(async () => ((await b.req("GET", "/api/connections")).json as unknown[]).length === 0);
  assert.equal((await b.req("DELETE", "/api/connections/nope")).status, 404);
});

httpTest("http: overview, nodes, health checks, aliveness test", async (b) => {
  const conn = await b.amqp();
  const ch = await conn.createChannel();
  await ch.assertQueue("ov", { durable: false });
  ch.sendToQueue("ov", Buffer.from("x"));
  await until(async () =>
    ((await b.req("GET", "/api/overview")).json as { queue_totals: { messages: number } }).queue_totals
      .messages === 1
  );
  const ov = (await b.req("GET", "/api/overview")).json as Record<string, unknown>;
  assert.equal(ov.product_name, "Warren");
  assert.equal(ov.rabbitmq_version, "3.10.8");
  assert.deepEqual(ov.object_totals, { channels: 1, connections: 1, consumers: 0, exchanges: 6, queues: 1 });
  const listeners = ov.listeners as { protocol: string; port: number }[];
  assert.deepEqual(listeners.map((l) => [l.protocol, l.port]), [["amqp", b.running.port], [
    "http",
    b.running.httpPort,
  ]]);
  assert.equal((ov.message_stats as { publish: number }).publish, 1);
  const nodes = (await b.req("GET", "/api/nodes")).json as Record<string, unknown>[];
  assert.equal(nodes.length, 1);
  assert.equal(nodes[0].name, ov.node);
  assert.equal(nodes[0].running, true);
  assert.equal((await b.req("GET", `/api/nodes/${encodeURIComponent(String(ov.node))}`)).status, 200);
  assert.deepEqual((await b.req("GET", "/api/health/checks/alarms")).json, { status: "ok" });
  assert.deepEqual((await b.req("GET", "/api/aliveness-test/%2F")).json, { status: "ok" });
  assert.equal((await b.req("GET", "/api/aliveness-test/nope")).status, 404);
});

httpTest("http: list endpoints page, filter, sort and select columns as RabbitMQ", async (b) => {
  for (const n of ["q-c", "q-a", "other", "q-b"]) {
    await b.req("PUT", `/api/queues/%2F/${n}`, { body: { durable: false } });
  }
  const paged = (await b.req("GET", "/api/queues?page=1&page_size=2&columns=name")).json;
  assert.deepEqual(paged, {
    filtered_count: 4,
    item_count: 2,
    items: [{ name: "other" }, { name: "q-a" }],
    page: 1,
    page_count: 2,
    page_size: 2,
    total_count: 4,
  });
  const filtered =
    (await b.req("GET", "/api/queues?page=1&page_size=10&name=q-&columns=name&sort_reverse=true")).json as {
      items: unknown[];
      filtered_count: number;
    };
  assert.deepEqual(filtered.items, [{ name: "q-c" }, { name: "q-b" }, { name: "q-a" }]);
  assert.equal(filtered.filtered_count, 3);
  const regex = (await b.req("GET", "/api/queues?page=1&name=%5Eq-%5Bab%5D%24&use_regex=true&columns=name"))
    .json as { items: unknown[] };
  assert.deepEqual(regex.items, [{ name: "q-a" }, { name: "q-b" }]);
  const sorted = (await b.req("GET", "/api/queues?sort=name&sort_reverse=true&columns=name,vhost")).json;
  assert.deepEqual(sorted, [
    { name: "q-c", vhost: "/" },
    { name: "q-b", vhost: "/" },
    { name: "q-a", vhost: "/" },
    { name: "other", vhost: "/" },
  ]);
  const nested = (await b.req("GET", "/api/queues/%2F/q-a?columns=name,message_stats.publish")).json;
  assert.deepEqual(nested, { name: "q-a", message_stats: { publish: 0 } });
  const out = await b.req("GET", "/api/queues?page=9&page_size=2");
  assert.equal(out.status, 400);
  assert.deepEqual(out.json, {
    error: "page_out_of_range",
    reason: "Page out of range, page: 9 page size: 2, len: 4",
  });
  const zero = await b.req("GET", "/api/queues?page=0");
  assert.deepEqual(zero.json, {
    error: "invalid_pagination_parameters",
    reason: "Invalid pagination parameters: page number 0, page size undefined",
  });
  const big = await b.req("GET", "/api/queues?page=1&page_size=600");
  assert.deepEqual(big.json, {
    error: "invalid_pagination_parameters",
    reason: "Invalid pagination parameters: page number 1, page size 600",
  });
});

httpTest("http: definitions export and import over HTTP, broker to broker", async (b) => {
  await b.req("PUT", "/api/vhosts/dv");
  await b.req("PUT", "/api/exchanges/dv/ex", {
    body: { type: "topic", arguments: { "alternate-exchange": "ae" } },
  });
  await b.req("PUT", "/api/queues/dv/q", { body: { arguments: { "x-max-length": 5 } } });
  await b.req("POST", "/api/bindings/dv/e/ex/q/q", { body: { routing_key: "k.*" } });
  await b.req("PUT", "/api/users/du", { body: { password: "dpw", tags: ["management"] } });
  const exported = await b.req("GET", "/api/definitions");
  assert.equal(exported.status, 200);
  const defs = exported.json as Record<string, unknown[]>;
  assert.deepEqual(defs.queues, [{
    name: "q",
    vhost: "dv",
    durable: true,
    auto_delete: false,
    arguments: { "x-max-length": 5 },
  }]);
  assert.equal((await b.req("GET", "/api/definitions", { user: "mon" })).status, 401);

  const other = await (await import("./_http.ts")).startHttpBroker();
  try {
    const imported = await other.req("POST", "/api/definitions", { body: defs });
    assert.equal(imported.status, 204);
    const again = (await other.req("GET", "/api/definitions")).json as Record<string, unknown>;
    for (const key of ["vhosts", "queues", "exchanges", "bindings", "users"]) {
      assert.deepEqual(again[key], defs[key], key);
    }
    // The imported user logs in with its password (its hash was carried over).
    const who = await fetch(`${other.base}/api/whoami`, {
      headers: { authorization: `Basic ${btoa("du:dpw")}` },
    });
    assert.equal(who.status, 200);
    const bad = await other.req("POST", "/api/definitions", { body: { queues: [{ name: "x" }] } });
    assert.equal(bad.status, 400);
    assert.equal((bad.json as { error: string }).error, "bad_request");
    const vhostOnly = (await other.req("GET", "/api/definitions/dv")).json as Record<string, unknown[]>;
    assert.deepEqual(Object.keys(vhostOnly).sort(), [
      "bindings",
      "exchanges",
      "parameters",
      "policies",
      "product_name",
      "product_version",
      "queues",
      "rabbit_version",
      "rabbitmq_version",
    ]);
  } finally {
    await other.stop();
  }
});
