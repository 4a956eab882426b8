// Management API numbers that come from AMQP activity, over real HTTP and amqplib: unacked
// messages (basic.get, consumers, cancelled consumers), channel prefetch, connection times, and
// HTTP publish with CC/BCC and mandatory semantics. Expected values were checked against
// RabbitMQ 3.10 with the same steps.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createManagementApp } from "../../server/http/mod.ts";
import { WINDOW_MS } from "../../server/http/rates.ts";
import type { ConsumeMessage } from "./_deps.ts";
import { basic, httpTest, until } from "./_http.ts";

type Row = Record<string, unknown>;

const TICK_MS = 100; // server/mod.ts TICK_INTERVAL: the broker's coarse clock

httpTest("http: messages_unacknowledged counts basic.get, consumers and cancelled consumers", async (b) => {
  const conn = await b.amqp();
  const ch = await conn.createChannel();
  await ch.prefetch(7);
  await ch.prefetch(11, true);
  await ch.assertQueue("gq", { durable: false });
  for (let i = 0; i < 5; i++) ch.sendToQueue("gq", Buffer.from("hello"));
  const queue = async () => (await b.req("GET", "/api/queues/%2F/gq")).json as Row;
  await until(async () => (await queue()).messages === 5);
  const got = await ch.get("gq", { noAck: false });
  assert.ok(got);
  const ch2 = await conn.createChannel();
  await ch2.prefetch(2);
  const { consumerTag } = await ch2.consume("gq", () => {}, { noAck: false });
  await until(async () => (await queue()).messages_unacknowledged === 3);
  const q = await queue();
  assert.deepEqual(
    [
      q.messages,
      q.messages_ready,
      q.messages_unacknowledged,
      q.message_bytes,
      q.message_bytes_ready,
      q.message_bytes_unacknowledged,
    ],
    [5, 2, 3, 25, 10, 15],
  );
  const details = q.consumer_details as Row[];
  assert.equal(details.length, 1);
  assert.equal(details[0].consumer_tag, consumerTag);
  assert.equal(details[0].prefetch_count, 2);
  const chDetails = details[0].channel_details as Row;
  assert.equal(chDetails.number, 2);
  assert.equal(chDetails.user, "admin");
  assert.equal(chDetails.name, `${chDetails.connection_name} (2)`);

  // Channel qos as RabbitMQ lists it: prefetch_count (per consumer), global_prefetch_count.
  const channels = (await b.req(
    "GET",
    "/api/channels?columns=number,prefetch_count,global_prefetch_count,messages_unacknowledged,transactional",
  ))
    .json as Row[];
  assert.deepEqual(channels.sort((x, y) => (x.number as number) - (y.number as number)), [
    {
      number: 1,
      prefetch_count: 7,
      global_prefetch_count: 11,
      messages_unacknowledged: 1,
      transactional: false,
    },
    {
      number: 2,
      prefetch_count: 2,
      global_prefetch_count: 0,
      messages_unacknowledged: 2,
      transactional: false,
    },
  ]);

  // The overview's totals include the fetched message too.
  const totals = (await b.req("GET", "/api/overview")).json as { queue_totals: Row };
  assert.deepEqual(
    [
      totals.queue_totals.messages,
      totals.queue_totals.messages_ready,
      totals.queue_totals.messages_unacknowledged,
    ],
    [5, 2, 3],
  );

  ch.ack(got);
  await until(async () => (await queue()).messages_unacknowledged === 2);
  // A cancelled consumer's deliveries stay unacknowledged until its channel settles them.
  await ch2.cancel(consumerTag);
  const afterCancel = await queue();
  assert.deepEqual([afterCancel.consumers, afterCancel.messages_unacknowledged], [0, 2]);
  await ch2.close();
  await until(async () => (await queue()).messages_unacknowledged === 0);
  const end = await queue();
  assert.deepEqual([end.messages, end.messages_ready, end.message_bytes_unacknowledged], [4, 4, 0]);
});

httpTest("http: basic.recover requeue=true frees the consumer's prefetch window", async (b) => {
  const conn = await b.amqp();
  const ch = await conn.createChannel();
  await ch.assertQueue("rq", { durable: false });
  await ch.prefetch(1);
  const seen: { redelivered: boolean }[] = [];
  await ch.consume("rq", (m) => m && seen.push({ redelivered: m.fields.redelivered }), { noAck: false });
  ch.sendToQueue("rq", Buffer.from("a"));
  await until(() => seen.length === 1);
  await ch.recover();
  // Redelivered to the same consumer: before, its window stayed full and nothing came.
  await until(() => seen.length === 2);
  assert.deepEqual(seen, [{ redelivered: false }, { redelivered: true }]);
  const q = (await b.req("GET", "/api/queues/%2F/rq")).json as Row;
  assert.deepEqual([q.messages_ready, q.messages_unacknowledged], [0, 1]);
});

httpTest("http: connections show connected_at (ms since the epoch)", async (b) => {
  const before = Date.now();
  await b.amqp();
  const after = Date.now();
  const [c] = (await b.req("GET", "/api/connections")).json as Row[];
  const at = c.connected_at as number;
  assert.equal(typeof at, "number");
  assert.ok(at >= before - 2 * TICK_MS && at <= after, `${before} <= ${at} <= ${after}`);
  const one = (await b.req("GET", `/api/connections/${encodeURIComponent(c.name as string)}`)).json as Row;
  assert.equal(one.connected_at, at);
});

httpTest("http: publish routes CC and BCC like basic.publish, and is mandatory", async (b) => {
  const conn = await b.amqp();
  const ch = await conn.createChannel();
  for (const q of ["cc-main", "cc-copy", "cc-hidden"]) await ch.assertQueue(q, { durable: false });
  const pub = (body: unknown) => b.req("POST", "/api/exchanges/%2F/amq.default/publish", { body });
  const stats = async () => {
    const s = (await b.req("GET", "/api/overview")).json as { message_stats: Row };
    return [s.message_stats.publish, s.message_stats.return_unroutable, s.message_stats.drop_unroutable];
  };
  assert.deepEqual(await stats(), [0, 0, 0]);
  assert.deepEqual(
    (await pub({
      properties: { headers: { CC: ["cc-copy"], BCC: ["cc-hidden"], x: 1 } },
      routing_key: "cc-main",
      payload: "m",
      payload_encoding: "string",
    })).json,
    { routed: true },
  );
  // Only CC/BCC route: the message's own key matches nothing, as in RabbitMQ.
  assert.deepEqual(
    (await pub({
      properties: { headers: { BCC: ["cc-hidden"] } },
      routing_key: "nowhere",
      payload: "n",
      payload_encoding: "string",
    })).json,
    { routed: true },
  );
  for (
    const [queue, payloads] of [["cc-main", ["m"]], ["cc-copy", ["m"]], ["cc-hidden", ["m", "n"]]] as const
  ) {
    for (const payload of payloads) {
      const m = await ch.get(queue, { noAck: true });
      assert.ok(m, `${queue} got ${payload}`);
      assert.equal(m.content.toString(), payload);
      // BCC never reaches a consumer; CC does.
      const expected = payload === "m" ? { CC: ["cc-copy"], x: 1 } : {};
      assert.deepEqual(m.properties.headers, expected);
    }
    assert.equal(await ch.get(queue, { noAck: true }), false);
  }
  // Unroutable: {"routed": false}, counted as returned (RabbitMQ's API publishes mandatory).
  assert.deepEqual(
    (await pub({ properties: {}, routing_key: "nowhere", payload: "x", payload_encoding: "string" })).json,
    { routed: false },
  );
  const badCc = await pub({
    properties: { headers: { CC: "cc-copy" } },
    routing_key: "nowhere",
    payload: "x",
    payload_encoding: "string",
  });
  assert.equal(badCc.status, 400);
  assert.deepEqual(badCc.json, {
    error: "bad_request",
    reason: '406 PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}',
  });
  const foreign = await pub({
    properties: { user_id: "bob" },
    routing_key: "cc-main",
    payload: "x",
    payload_encoding: "string",
  });
  assert.equal(foreign.status, 400);
  assert.deepEqual(foreign.json, {
    error: "bad_request",
    reason: "406 PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'admin'",
  });
  assert.deepEqual(await stats(), [3, 1, 0]);
});

httpTest("http: depth rates of a queue fed and drained over AMQP", async (b) => {
  // A second app on the same kernel, with a clock the test moves.
  const clock = { now: 5_000_000 };
  const app = createManagementApp(b.running.broker, { now: () => clock.now });
  const get = async (path: string) => {
    const res = await app.request(path, { headers: { authorization: basic("admin") } }, {
      remoteAddress: "127.0.0.1",
    });
    return await res.json() as Row;
  };
  const conn = await b.amqp();
  const ch = await conn.createChannel();
  await ch.assertQueue("dq", { durable: false });
  const rates = (q: Row) =>
    ["messages", "messages_ready", "messages_unacknowledged"].map((k) =>
      (q[`${k}_details`] as { rate: number }).rate
    );
  assert.deepEqual(rates(await get("/api/queues/%2F/dq")), [0, 0, 0]);
  for (let i = 0; i < 40; i++) ch.sendToQueue("dq", Buffer.from("x"));
  await until(async () => (await get("/api/queues/%2F/dq")).messages === 40);
  for (let i = 0; i < 10; i++) assert.ok(await ch.get("dq", { noAck: false }));
  clock.now += WINDOW_MS;
  const q = await get("/api/queues/%2F/dq");
  assert.deepEqual([q.messages, q.messages_ready, q.messages_unacknowledged], [40, 30, 10]);
  assert.deepEqual(rates(q), [8, 6, 2]);
  ch.nackAll(true);
  await until(async () => (await get("/api/queues/%2F/dq")).messages_ready === 40);
  clock.now += WINDOW_MS;
  assert.deepEqual(rates(await get("/api/queues/%2F/dq")), [0, 2, -2]);
});

/** A `message_stats` object without its `_details` rates. */
function counts(stats: unknown): Row {
  return Object.fromEntries(Object.entries(stats as Row).filter(([k]) => !k.endsWith("_details")));
}

const NO_STATS = {
  ack: 0,
  confirm: 0,
  deliver: 0,
  deliver_get: 0,
  deliver_no_ack: 0,
  drop_unroutable: 0,
  get: 0,
  get_empty: 0,
  get_no_ack: 0,
  publish: 0,
  redeliver: 0,
  return_unroutable: 0,
};

httpTest(
  "http: per-channel and per-vhost message_stats, and channel churn, from amqplib traffic",
  async (b) => {
    const churn = async () => {
      const c = ((await b.req("GET", "/api/overview")).json as { churn_rates: Row }).churn_rates;
      return [c.connection_created, c.channel_created, c.channel_closed, c.queue_declared, c.queue_created];
    };
    const churn0 = (await churn()) as number[];
    const conn = await b.amqp();
    const pub = await conn.createConfirmChannel();
    const con = await conn.createChannel();
    await pub.assertQueue("ms", { durable: false });
    for (let i = 0; i < 3; i++) pub.sendToQueue("ms", Buffer.from("x"));
    pub.publish("", "nowhere", Buffer.from("r"), { mandatory: true });
    pub.publish("", "nowhere", Buffer.from("d"));
    await pub.waitForConfirms();
    const first = await con.get("ms", { noAck: false });
    assert.ok(first);
    con.ack(first);
    const got: ConsumeMessage[] = [];
    await con.consume("ms", (m) => m && got.push(m), { noAck: false });
    await until(() => got.length === 2);
    con.nack(got[0], false, true); // back to the queue, delivered again, redelivered
    await until(() => got.length === 3);
    assert.equal(got[2].fields.redelivered, true);
    con.ack(got[1]);
    con.ack(got[2]);
    assert.equal(await con.get("ms"), false);
    const expectedPub = {
      ...NO_STATS,
      publish: 5,
      confirm: 5,
      return_unroutable: 1,
      drop_unroutable: 1,
    };
    const expectedCon = {
      ...NO_STATS,
      get: 1,
      get_empty: 1,
      deliver: 3,
      deliver_get: 4,
      redeliver: 1,
      ack: 3,
    };
    const channels = async () => {
      const rows = (await b.req("GET", "/api/channels?columns=number,message_stats")).json as Row[];
      return rows.sort((x, y) => (x.number as number) - (y.number as number)).map((r) => ({
        number: r.number,
        message_stats: counts(r.message_stats),
      }));
    };
    await until(async () => ((await channels())[1]?.message_stats.ack as number) === 3);
    assert.deepEqual(await channels(), [
      { number: 1, message_stats: expectedPub },
      { number: 2, message_stats: expectedCon },
    ]);
    const vhost = async () => counts(((await b.req("GET", "/api/vhosts/%2F")).json as Row).message_stats);
    const sum = {
      ...NO_STATS,
      publish: 5,
      confirm: 5,
      return_unroutable: 1,
      drop_unroutable: 1,
      get: 1,
      get_empty: 1,
      deliver: 3,
      deliver_get: 4,
      redeliver: 1,
      ack: 3,
    };
    assert.deepEqual(await vhost(), sum);
    // A closed channel's counters stay in its vhost's; the API's publish and get count there too.
    await pub.close();
    await until(async () => (await channels()).length === 1);
    assert.deepEqual(await vhost(), sum);
    const published = await b.req("POST", "/api/exchanges/%2F/amq.default/publish", {
      body: { properties: {}, routing_key: "ms", payload: "h", payload_encoding: "string" },
    });
    assert.deepEqual(published.json, { routed: true });
    await until(async () => ((await vhost()).deliver as number) === 4);
    con.ack(got[3]);
    await until(async () => ((await vhost()).ack as number) === 4);
    assert.deepEqual(await vhost(), { ...sum, publish: 6, deliver: 4, deliver_get: 5, ack: 4 });
    // Churn: one connection opened, two channels opened and one closed, one queue declared.
    assert.deepEqual((await churn()).map((n, i) => (n as number) - churn0[i]), [1, 2, 1, 1, 1]);
  },
);
