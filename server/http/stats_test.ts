// Queue depth rates and the list fast path of the management app, through Hono's request
// interface with a clock the test moves (no sockets, no sleeping).

import assert from "node:assert/strict";
import {
  type AnyMethod,
  Broker,
  encodeMethod,
  FRAME,
  Message,
  METHOD,
  PROTOCOL_HEADER,
  type Queue,
  type Transport,
  Writer,
} from "../../core/mod.ts";
import { DEFAULT_PLUGINS } from "../../plugins/mod.ts";
import { createManagementApp } from "./app.ts";
import { rabbitTimestamp } from "./format.ts";
import { WINDOW_MS } from "./rates.ts";

function setup() {
  const broker = new Broker();
  for (const p of DEFAULT_PLUGINS) broker.register(p);
  broker.addVHost("/");
  broker.addVHost("other");
  broker.users.put("admin", "a", { tags: ["administrator"] });
  broker.users.put("m", "m", { tags: ["management"] });
  broker.permissions.set("admin", "/", { configure: ".*", write: ".*", read: ".*" });
  broker.permissions.set("m", "/", { configure: ".*", write: ".*", read: ".*" });
  const clock = { now: 1_000_000 };
  const app = createManagementApp(broker, { node: "warren@test", now: () => clock.now });
  const get = async (path: string, user = "admin") => {
    const password = user === "admin" ? "a" : "m";
    const res = await app.request(path, {
      headers: { authorization: `Basic ${btoa(`${user}:${password}`)}` },
    }, { remoteAddress: "10.0.0.7" });
    assert.equal(res.status, 200, path);
    return await res.json();
  };
  const declare = (vhost: string, name: string): Queue =>
    broker.vhosts.get(vhost)!.declareQueue({
      name,
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      args: {},
      owner: null,
    });
  const fill = (q: Queue, n: number) => {
    for (let i = 0; i < n; i++) q.enqueue(new Message("", q.name, new Uint8Array(2), new Uint8Array(3)));
  };
  return { broker, clock, get, declare, fill };
}

const DEPTH = [
  "messages",
  "messages_details",
  "messages_ready",
  "messages_ready_details",
  "messages_unacknowledged",
  "messages_unacknowledged_details",
];

function depth(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(DEPTH.map((k) => [k, row[k]]));
}

function expected(messages: number, rate: number) {
  return {
    messages,
    messages_details: { rate },
    messages_ready: messages,
    messages_ready_details: { rate },
    messages_unacknowledged: 0,
    messages_unacknowledged_details: { rate: 0 },
  };
}

Deno.test("formatQueue() reports queue depth rates over fixed 5-second windows", async () => {
  const { clock, get, declare, fill } = setup();
  const q = declare("/", "jobs");
  // The first read opens the window: no rate yet.
  assert.deepEqual(depth(await get("/api/queues/%2F/jobs")), expected(0, 0));
  fill(q, 50);
  clock.now += WINDOW_MS - 1;
  assert.deepEqual(depth(await get("/api/queues/%2F/jobs")), expected(50, 0), "window still open");
  clock.now += 1;
  assert.deepEqual(depth(await get("/api/queues/%2F/jobs")), expected(50, 10), "+50 in 5 s");
  // The list shows the same window (one record per queue, whichever route reads it).
  const [row] = await get("/api/queues?columns=name,messages,messages_details");
  assert.deepEqual(row, { name: "jobs", messages: 50, messages_details: { rate: 10 } });
  // Draining 25 over the next 10 s: a negative rate, as RabbitMQ shows a falling depth.
  for (let i = 0; i < 25; i++) q.take();
  clock.now += 2 * WINDOW_MS;
  assert.deepEqual(depth(await get("/api/queues/%2F/jobs")), expected(25, -2.5));
  clock.now += WINDOW_MS;
  assert.deepEqual(depth(await get("/api/queues/%2F/jobs")), expected(25, 0));
});

Deno.test("/api/overview queue_totals and /api/vhosts report depth rates", async () => {
  const { clock, get, declare, fill } = setup();
  const a = declare("/", "a");
  const b = declare("other", "b");
  assert.deepEqual((await get("/api/overview")).queue_totals, expected(0, 0));
  assert.deepEqual((await get("/api/overview", "m")).queue_totals, expected(0, 0));
  assert.deepEqual((await get("/api/vhosts")).map(depth), [expected(0, 0), expected(0, 0)]);
  fill(a, 10);
  fill(b, 20);
  clock.now += WINDOW_MS;
  assert.deepEqual((await get("/api/overview")).queue_totals, expected(30, 6));
  // A management user sees only "/": its totals and rates are those of "/".
  assert.deepEqual((await get("/api/overview", "m")).queue_totals, expected(10, 2));
  assert.deepEqual((await get("/api/vhosts")).map(depth), [expected(10, 2), expected(20, 4)]);
});

Deno.test("/api/queues sorted by a depth column formats only the page", async () => {
  const { get, declare, fill } = setup();
  for (let i = 0; i < 30; i++) fill(declare("/", `q-${String(i).padStart(2, "0")}`), i % 7);
  const page = await get(
    "/api/queues?page=2&page_size=5&sort=messages&sort_reverse=true&columns=name,messages",
  );
  // Depths 6,6,6,6,5 | 5,5,5,5,4 ...; ties keep name order, reversed as RabbitMQ reverses the whole list.
  const all = (await get("/api/queues?sort=messages&sort_reverse=true&columns=name,messages")) as {
    name: string;
    messages: number;
  }[];
  assert.deepEqual(page.items, all.slice(5, 10));
  assert.deepEqual(page.items.map((r: { name: string }) => r.name), ["q-19", "q-12", "q-05", "q-25", "q-18"]);
  // Rates sort from the same windows the rows show (none completed yet: all 0, name order kept).
  const byRate = await get(
    "/api/queues?page=1&page_size=3&sort=message_stats.publish_details.rate&columns=name",
  );
  assert.deepEqual(byRate.items, [{ name: "q-00" }, { name: "q-01" }, { name: "q-02" }]);
  const byDepthRate = await get("/api/queues?page=1&page_size=2&sort=messages_details.rate&columns=name");
  assert.deepEqual(byDepthRate.items, [{ name: "q-00" }, { name: "q-01" }]);
  assert.deepEqual(all.slice(0, 6).map((r) => r.messages), [6, 6, 6, 6, 5, 5]);
  assert.equal(page.filtered_count, 30);
  assert.equal(page.page_count, 6);
});

Deno.test("/api/nodes shows the resource monitor's numbers and alarms; alarms health check fails on one", async () => {
  const broker = new Broker();
  for (const p of DEFAULT_PLUGINS) broker.register(p);
  broker.addVHost("/");
  broker.users.put("admin", "a", { tags: ["administrator"] });
  const report = { memoryUsed: 1000, memoryLimit: 4000, diskFree: 9_000_000, diskFreeLimit: 50_000_000 };
  const app = createManagementApp(broker, {
    node: "warren@test",
    http: { host: "127.0.0.1", port: 15999 },
    resources: () => report,
  });
  const get = async (path: string) => {
    const res = await app.request(path, { headers: { authorization: `Basic ${btoa("admin:a")}` } }, {
      remoteAddress: "10.0.0.7",
    });
    return { status: res.status, json: await res.json() };
  };
  const columns = "columns=mem_used,mem_limit,disk_free,disk_free_limit,mem_alarm,disk_free_alarm,contexts";
  const context = {
    node: "warren@test",
    description: "RabbitMQ Management",
    path: "/",
    ip: "127.0.0.1",
    port: "15999",
  };
  assert.deepEqual((await get(`/api/nodes/warren@test?${columns}`)).json, {
    mem_used: 1000,
    mem_limit: 4000,
    disk_free: 9_000_000,
    disk_free_limit: 50_000_000,
    mem_alarm: false,
    disk_free_alarm: false,
    contexts: [context],
  });
  assert.deepEqual((await get("/api/health/checks/alarms")).json, { status: "ok" });
  broker.setAlarm("disk", true);
  broker.setAlarm("memory", true);
  const [node] = (await get(`/api/nodes?${columns}`)).json;
  assert.deepEqual([node.mem_alarm, node.disk_free_alarm], [true, true]);
  assert.deepEqual(await get("/api/health/checks/alarms"), {
    status: 503,
    json: {
      status: "failed",
      reason: "resource alarm(s) in effect in the cluster",
      alarms: [{ node: "warren@test", resource: "disk" }, { node: "warren@test", resource: "memory" }],
    },
  });
  assert.equal(
    (await get("/api/health/checks/local-alarms")).json.reason,
    "resource alarm(s) in effect on the node",
  );
  assert.deepEqual((await get("/api/overview?columns=contexts")).json, { contexts: [context] });
});

/** One method frame, encoded by the kernel's own codec. */
function methodFrame(channel: number, m: AnyMethod): Uint8Array {
  const w = new Writer();
  const at = w.beginFrame(FRAME.METHOD, channel);
  encodeMethod(w, m);
  w.endFrame(at);
  return w.bytes.slice(0, w.offset);
}

Deno.test("formatConnection() reports the socket's bytes and reads/writes as recv_oct, send_oct, recv_cnt, send_cnt", async () => {
  const { broker, clock, get } = setup();
  const written: Uint8Array[] = [];
  const transport: Transport = {
    remoteAddress: "10.0.0.9",
    remotePort: 4000,
    write(data) {
      written.push(data);
      return true;
    },
    close() {},
    pauseReading() {},
    resumeReading() {},
  };
  const conn = broker.connect(transport);
  const startOk = methodFrame(0, {
    id: METHOD.CONNECTION_START_OK,
    clientProperties: {},
    mechanism: "PLAIN",
    response: new TextEncoder().encode("\0admin\0a"),
    locale: "en_US",
  });
  const tuneOk = methodFrame(0, {
    id: METHOD.CONNECTION_TUNE_OK,
    channelMax: 0,
    frameMax: 131072,
    heartbeat: 0,
  });
  const open = methodFrame(0, {
    id: METHOD.CONNECTION_OPEN,
    virtualHost: "/",
    capabilities: "",
    insist: false,
  });
  // Four socket reads: the header, start-ok cut in two, then tune-ok and open together.
  conn.receive(PROTOCOL_HEADER);
  conn.flush(); // connection.start
  conn.receive(startOk.subarray(0, 10));
  conn.receive(startOk.subarray(10));
  conn.flush(); // connection.tune
  const both = new Uint8Array(tuneOk.length + open.length);
  both.set(tuneOk);
  both.set(open, tuneOk.length);
  conn.receive(both);
  conn.flush(); // connection.open-ok
  assert.equal(conn.state, "open");
  const received = 8 + startOk.length + tuneOk.length + open.length;
  const sent = written.reduce((n, d) => n + d.length, 0);
  assert.equal(written.length, 3);
  const columns = "columns=recv_oct,recv_cnt,send_oct,send_cnt,recv_oct_details,send_oct_details";
  const [row] = await get(`/api/connections?${columns}`);
  assert.deepEqual(row, {
    recv_oct: received,
    recv_cnt: 4,
    send_oct: sent,
    send_cnt: 3,
    recv_oct_details: { rate: 0 },
    send_oct_details: { rate: 0 },
  });
  // One more read (channel.open: 13 bytes) and write (channel.open-ok: 16 bytes) in a 5 s window.
  const channelOpen = methodFrame(1, { id: METHOD.CHANNEL_OPEN, outOfBand: "" });
  assert.equal(channelOpen.length, 13);
  conn.receive(channelOpen);
  conn.flush();
  assert.equal(written[3].length, 16);
  clock.now += WINDOW_MS;
  const name = encodeURIComponent(conn.name);
  assert.deepEqual(await get(`/api/connections/${name}?${columns}`), {
    recv_oct: received + 13,
    recv_cnt: 5,
    send_oct: sent + 16,
    send_cnt: 4,
    recv_oct_details: { rate: 2.6 },
    send_oct_details: { rate: 3.2 },
  });
});

Deno.test("/api/overview churn_rates count connections, channels and queues over fixed windows", async () => {
  const { broker, clock, get, declare } = setup();
  const zero = {
    channel_closed: 0,
    channel_closed_details: { rate: 0 },
    channel_created: 0,
    channel_created_details: { rate: 0 },
    connection_closed: 0,
    connection_closed_details: { rate: 0 },
    connection_created: 0,
    connection_created_details: { rate: 0 },
    queue_created: 0,
    queue_created_details: { rate: 0 },
    queue_declared: 0,
    queue_declared_details: { rate: 0 },
    queue_deleted: 0,
    queue_deleted_details: { rate: 0 },
  };
  assert.deepEqual((await get("/api/overview")).churn_rates, zero);
  declare("/", "a");
  declare("/", "a"); // declared again: not created
  declare("/", "b");
  broker.vhosts.get("/")!.deleteQueue("b", null, false, false);
  // A passive declare is not counted (RabbitMQ 3.10).
  broker.vhosts.get("/")!.declareQueue({
    name: "a",
    passive: true,
    durable: false,
    exclusive: false,
    autoDelete: false,
    args: {},
    owner: null,
  });
  // A socket that never opens a connection still counts a close, as RabbitMQ counts it.
  const transport: Transport = {
    remoteAddress: "10.0.0.9",
    remotePort: 4001,
    write: () => true,
    close() {},
    pauseReading() {},
    resumeReading() {},
  };
  broker.connect(transport).onClosed();
  const counts = {
    ...zero,
    connection_closed: 1,
    queue_created: 2,
    queue_declared: 3,
    queue_deleted: 1,
  };
  assert.deepEqual((await get("/api/overview")).churn_rates, counts, "the window is still open");
  clock.now += WINDOW_MS;
  assert.deepEqual((await get("/api/overview")).churn_rates, {
    ...counts,
    connection_closed_details: { rate: 0.2 },
    queue_created_details: { rate: 0.4 },
    queue_declared_details: { rate: 0.6 },
    queue_deleted_details: { rate: 0.2 },
  });
});

Deno.test("formatQueue() shows idle_since, in RabbitMQ's format, once a queue saw no activity for a check", async () => {
  const { broker, clock, get, declare, fill } = setup();
  const t0 = Date.UTC(2026, 10, 25, 23, 52, 40, 776);
  clock.now = t0;
  broker.tick(t0);
  const q = declare("/", "jobs");
  const idle = async () => (await get("/api/queues/%2F/jobs")).idle_since;
  broker.tick(t0 + 1000); // the vhost's next check (one a second): the declare was activity
  assert.equal(await idle(), undefined);
  broker.tick(t0 + 2000); // a whole second with nothing
  assert.equal(await idle(), "2026-11-25T23:52:42.776+00:00");
  broker.tick(t0 + 2900); // no check between; then still idle since the same time
  broker.tick(t0 + 3000);
  assert.equal(await idle(), "2026-11-25T23:52:42.776+00:00");
  fill(q, 1);
  broker.tick(t0 + 4000);
  assert.equal(await idle(), undefined, "a publish ends idleness");
  broker.tick(t0 + 5000);
  assert.equal(await idle(), rabbitTimestamp(t0 + 5000));
  q.touch(); // consume, cancel, get or declare
  broker.tick(t0 + 6000);
  assert.equal(await idle(), undefined);
});
