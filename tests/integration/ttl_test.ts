// Time-to-live as clients see it: queue TTL (x-message-ttl), per-message TTL (the expiration property),
// queue expiry (x-expires), expired messages dead-lettered with reason "expired", and the refusal of bad
// values. Expected values are RabbitMQ 3.10's classic queues (reference run:
// WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5682/ deno test -A <this file>). Warren's clock advances
// every 100 ms, so time bounds leave room for that.
//
// No bare sleeps: publishes are confirmed, expiries are awaited with waitFor, and "nothing happens" is a
// bounded assertStaysFalse.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { assertStaysFalse, brokerTest, isExternal, type TestCtx, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, expectChannelClose } from "./_clients.ts";
import { amqplib } from "./_deps.ts";
import type { AmqplibConnection, Channel, ConfirmChannel, ConsumeMessage, GetMessage } from "./_deps.ts";

// ---------------------------------------------------------------------------------------------------------
// Helpers

interface Setup {
  conn: AmqplibConnection;
  /** Confirm channel: declares and publishes. */
  pub: ConfirmChannel;
  /** Plain channel: gets, consumes. */
  ch: Channel;
}

async function open(ctx: TestCtx): Promise<Setup> {
  const conn = await amqplibConnect(ctx);
  return { conn, pub: await conn.createConfirmChannel(), ch: await conn.createChannel() };
}

/** An exclusive server-named queue with the given arguments. */
async function queue(ch: Channel, args: Record<string, unknown> = {}): Promise<string> {
  const { queue } = await ch.assertQueue("", { exclusive: true, arguments: args });
  return queue;
}

/** Publishes and resolves with the publisher confirm: "ack" or "nack". */
function publish(
  pub: ConfirmChannel,
  ex: string,
  rk: string,
  body: string,
  opts: Record<string, unknown> = {},
): Promise<"ack" | "nack"> {
  return new Promise((resolve) => {
    pub.publish(ex, rk, Buffer.from(body), opts, (err) => resolve(err ? "nack" : "ack"));
  });
}

/** A no-ack consumer collecting every delivery of `q`. */
async function collect(ch: Channel, q: string): Promise<ConsumeMessage[]> {
  const got: ConsumeMessage[] = [];
  await ch.consume(q, (m) => m && got.push(m), { noAck: true });
  return got;
}

async function waitCount(got: unknown[], n: number, what: string, timeout = 3000): Promise<void> {
  await waitFor(() => got.length >= n, {
    timeout,
    message: `${what}: ${got.length} of ${n} messages arrived`,
  });
  assert.equal(got.length, n, what);
}

async function messageCount(ch: Channel, q: string): Promise<number> {
  return (await ch.checkQueue(q)).messageCount;
}

const bodies = (ms: { content: Buffer }[]) => ms.map((m) => m.content.toString());

type Table = Record<string, unknown>;

/**
 * The earliest a `ms` timeout may fire, measured by the test: Warren's clock advances every 100 ms, so
 * a time it records may be up to 100 ms old (and the test's own start mark a little late).
 */
const earliest = (ms: number) => ms - 100 - 20;

/** Checks x-death (each entry's time for shape and recency, the rest exactly) and the other headers. */
function assertExpiredHeaders(headers: Table | undefined, q: string, entry: Table, others: Table = {}): void {
  assert.ok(headers, "message has no headers");
  const xDeath = headers["x-death"];
  assert.ok(Array.isArray(xDeath), `x-death is not an array: ${JSON.stringify(xDeath)}`);
  assert.equal(xDeath.length, 1, `x-death: ${JSON.stringify(xDeath)}`);
  const { time, ...rest } = xDeath[0] as Table;
  const t = time as { "!": unknown; value: number };
  assert.equal(t["!"], "timestamp");
  assert.ok(Math.abs(t.value - Date.now() / 1000) < 10, `x-death time ${t.value} is not recent`);
  assert.deepEqual(rest, { count: 1, reason: "expired", queue: q, ...entry });
  const other = { ...headers };
  delete other["x-death"];
  const expected: Table = {
    ...others,
    "x-first-death-reason": "expired",
    "x-first-death-queue": q,
    "x-first-death-exchange": entry.exchange,
  };
  if (!isExternal) {
    // Warren also writes x-last-death-*; RabbitMQ 3.10 does not.
    expected["x-last-death-reason"] = "expired";
    expected["x-last-death-queue"] = q;
    expected["x-last-death-exchange"] = entry.exchange;
  }
  assert.deepEqual(other, expected);
}

/**
 * Whether queue `q` exists, found by a mandatory publish through the default exchange (a passive
 * declare or basic.get would count as use and restart an x-expires timer).
 */
async function queueExists(pub: ConfirmChannel, q: string): Promise<boolean> {
  const id = uniqueName("probe");
  let returned = false;
  const onReturn = (m: { properties: { messageId?: string } }) => {
    if (m.properties.messageId === id) returned = true;
  };
  pub.on("return", onReturn);
  try {
    // basic.return comes before the confirm.
    assert.equal(await publish(pub, "", q, "probe", { mandatory: true, messageId: id }), "ack");
  } finally {
    pub.off("return", onReturn);
  }
  return !returned;
}

// ---------------------------------------------------------------------------------------------------------
// Queue TTL

brokerTest("x-message-ttl expires messages and dead-letters them as expired", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const dlq = await queue(pub);
  const q = await queue(pub, {
    "x-message-ttl": 200,
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": dlq,
  });
  const dead = await collect(ch, dlq);
  const start = Date.now();
  for (const b of ["m1", "m2"]) assert.equal(await publish(pub, "", q, b, { headers: { h: b } }), "ack");
  assert.equal(await messageCount(pub, q), 2);
  await waitCount(dead, 2, "dead-letter queue");
  const elapsed = Date.now() - start;
  assert.ok(elapsed >= earliest(200), `expired after ${elapsed} ms, before the 200 ms TTL`);
  assert.deepEqual(bodies(dead), ["m1", "m2"]);
  for (const d of dead) {
    assert.equal(d.fields.exchange, "");
    assert.equal(d.fields.routingKey, dlq);
    assert.equal(d.properties.expiration, undefined);
    assertExpiredHeaders(d.properties.headers, q, { exchange: "", "routing-keys": [q] }, {
      h: d.content.toString(),
    });
  }
  assert.equal(await messageCount(pub, q), 0);
  assert.equal(await ch.get(q, { noAck: true }), false);
});

brokerTest(
  "x-message-ttl without a DLX drops expired messages; a fresh one is still delivered",
  async (ctx) => {
    const { pub, ch } = await open(ctx);
    const q = await queue(pub, { "x-message-ttl": 150 });
    assert.equal(await publish(pub, "", q, "old"), "ack");
    await waitFor(async () => (await messageCount(ch, q)) === 0, { timeout: 3000 });
    assert.equal(await ch.get(q, { noAck: true }), false);
    assert.equal(await publish(pub, "", q, "new"), "ack");
    const m = await ch.get(q, { noAck: true }) as GetMessage | false;
    assert.ok(m, "the fresh message was not delivered");
    assert.equal(m.content.toString(), "new");
    assert.equal(m.properties.expiration, undefined);
  },
);

brokerTest("x-message-ttl 0: a message that cannot be delivered at once expires", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const dlq = await queue(pub);
  const q = await queue(pub, {
    "x-message-ttl": 0,
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": dlq,
  });
  const dead = await collect(ch, dlq);
  assert.equal(await publish(pub, "", q, "now-or-never"), "ack");
  await waitCount(dead, 1, "dead-letter queue");
  assertExpiredHeaders(dead[0].properties.headers, q, { exchange: "", "routing-keys": [q] });
  assert.equal(await messageCount(pub, q), 0);
  assert.equal(await ch.get(q, { noAck: true }), false);
  // With a consumer waiting it is delivered.
  const got = await collect(ch, q);
  assert.equal(await publish(pub, "", q, "delivered"), "ack");
  await waitCount(got, 1, "consumer");
  assert.deepEqual(bodies(got), ["delivered"]);
  await assertStaysFalse(() => dead.length > 1, 200);
});

// ---------------------------------------------------------------------------------------------------------
// Per-message TTL

brokerTest(
  "expiration: dead-lettered as expired, original-expiration kept, the property removed",
  async (ctx) => {
    const { pub, ch } = await open(ctx);
    const dlq = await queue(pub);
    const q = await queue(pub, { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq });
    const dead = await collect(ch, dlq);
    const start = Date.now();
    assert.equal(
      await publish(pub, "", q, "short", { expiration: "200", messageId: "id-1", headers: { h: 1 } }),
      "ack",
    );
    assert.equal(await messageCount(pub, q), 1);
    await waitCount(dead, 1, "dead-letter queue");
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= earliest(200), `expired after ${elapsed} ms, before its 200 ms expiration`);
    const d = dead[0];
    assert.equal(d.content.toString(), "short");
    assert.equal(d.fields.routingKey, dlq);
    assert.equal(d.properties.expiration, undefined);
    assert.equal(d.properties.messageId, "id-1");
    assertExpiredHeaders(d.properties.headers, q, {
      exchange: "",
      "routing-keys": [q],
      "original-expiration": "200",
    }, { h: 1 });
    assert.equal(await messageCount(pub, q), 0);
    assert.equal(await ch.get(q, { noAck: true }), false);
  },
);

brokerTest("expiration 0: not delivered to basic.get; delivered to a waiting consumer", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const dlq = await queue(pub);
  const q = await queue(pub, { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq });
  const dead = await collect(ch, dlq);
  assert.equal(await publish(pub, "", q, "zero", { expiration: "0" }), "ack");
  await waitCount(dead, 1, "dead-letter queue");
  assertExpiredHeaders(dead[0].properties.headers, q, {
    exchange: "",
    "routing-keys": [q],
    "original-expiration": "0",
  });
  assert.equal(await ch.get(q, { noAck: true }), false);
  const got = await collect(ch, q);
  assert.equal(await publish(pub, "", q, "zero-2", { expiration: "0" }), "ack");
  await waitCount(got, 1, "consumer");
  assert.equal(got[0].properties.expiration, "0");
  await assertStaysFalse(() => dead.length > 1, 200);
});

brokerTest("an unexpired message keeps its expiration property when delivered", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const q = await queue(pub);
  assert.equal(await publish(pub, "", q, "long", { expiration: "60000" }), "ack");
  const m = await ch.get(q, { noAck: true }) as GetMessage | false;
  assert.ok(m);
  assert.equal(m.properties.expiration, "60000");
});

brokerTest("the lower of x-message-ttl and expiration applies", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const dlq = await queue(pub);
  const q = await queue(pub, {
    "x-message-ttl": 60000,
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": dlq,
  });
  const dead = await collect(ch, dlq);
  assert.equal(await publish(pub, "", q, "per-message", { expiration: "100" }), "ack");
  await waitCount(dead, 1, "dead-letter queue");
  assertExpiredHeaders(dead[0].properties.headers, q, {
    exchange: "",
    "routing-keys": [q],
    "original-expiration": "100",
  });

  const q2 = await queue(pub, {
    "x-message-ttl": 100,
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": dlq,
  });
  assert.equal(await publish(pub, "", q2, "per-queue", { expiration: "60000" }), "ack");
  await waitCount(dead, 2, "dead-letter queue");
  assertExpiredHeaders(dead[1].properties.headers, q2, {
    exchange: "",
    "routing-keys": [q2],
    "original-expiration": "60000",
  });
});

brokerTest("a message with a short expiration behind one without", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const dlq = await queue(pub);
  const q = await queue(pub, { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq });
  const dead = await collect(ch, dlq);
  assert.equal(await publish(pub, "", q, "a"), "ack");
  assert.equal(await publish(pub, "", q, "b", { expiration: "200" }), "ack");
  assert.equal(await publish(pub, "", q, "c"), "ack");
  if (isExternal) {
    // RabbitMQ expires per-message-TTL messages only at the head of the queue: b waits behind a.
    await assertStaysFalse(() => dead.length > 0, 500);
    assert.equal(await messageCount(pub, q), 3);
    const a = await ch.get(q, { noAck: true }) as GetMessage | false;
    assert.ok(a);
    assert.equal(a.content.toString(), "a");
    // b is at the head now and long expired: dead-lettered, never delivered.
    await waitCount(dead, 1, "dead-letter queue");
  } else {
    // Warren (deliberately) expires a message wherever it is in the queue.
    await waitCount(dead, 1, "dead-letter queue", 1000);
    assert.equal(await messageCount(pub, q), 2);
    const a = await ch.get(q, { noAck: true }) as GetMessage | false;
    assert.ok(a);
    assert.equal(a.content.toString(), "a");
  }
  assert.deepEqual(bodies(dead), ["b"]);
  assertExpiredHeaders(dead[0].properties.headers, q, {
    exchange: "",
    "routing-keys": [q],
    "original-expiration": "200",
  });
  const c = await ch.get(q, { noAck: true }) as GetMessage | false;
  assert.ok(c);
  assert.equal(c.content.toString(), "c");
  assert.equal(await ch.get(q, { noAck: true }), false);
});

// ---------------------------------------------------------------------------------------------------------
// Queue expiry

/** A named, non-exclusive queue; on an external broker it is deleted (if still there) when the test ends. */
async function namedQueue(ctx: TestCtx, ch: Channel, args: Record<string, unknown>): Promise<string> {
  const name = uniqueName("ttl-expires");
  await ch.assertQueue(name, { durable: false, exclusive: false, autoDelete: false, arguments: args });
  if (isExternal) {
    ctx.defer(async () => {
      const c = await amqplib.connect(ctx.url);
      c.on("error", () => {});
      try {
        await (await c.createChannel()).deleteQueue(name);
      } finally {
        await c.close();
      }
    });
  }
  return name;
}

brokerTest("x-expires deletes a queue left unused", async (ctx) => {
  const { conn, pub, ch } = await open(ctx);
  const q = await namedQueue(ctx, ch, { "x-expires": 300 });
  const start = Date.now();
  assert.equal(await queueExists(pub, q), true);
  await waitFor(async () => !(await queueExists(pub, q)), { timeout: 3000, interval: 50 });
  const elapsed = Date.now() - start;
  assert.ok(elapsed >= earliest(300), `deleted after ${elapsed} ms, before its 300 ms x-expires`);
  const reason = await expectChannelClose(conn, (c) => c.checkQueue(q));
  assert.equal(reason.code, 404);
});

brokerTest("x-expires: a consumer keeps the queue; after basic.cancel it expires", async (ctx) => {
  const { conn, pub, ch } = await open(ctx);
  const q = await namedQueue(ctx, ch, { "x-expires": 400 });
  const { consumerTag } = await ch.consume(q, () => {}, { noAck: true });
  let gone = false;
  const probe = setInterval(() => {
    queueExists(pub, q).then((e) => (gone ||= !e), () => {});
  }, 50);
  try {
    await assertStaysFalse(() => gone, 900, { message: "the queue expired while it had a consumer" });
  } finally {
    clearInterval(probe);
  }
  await ch.cancel(consumerTag);
  const start = Date.now();
  await waitFor(async () => !(await queueExists(pub, q)), { timeout: 3000, interval: 50 });
  const elapsed = Date.now() - start;
  assert.ok(
    elapsed >= earliest(400),
    `deleted ${elapsed} ms after basic.cancel, before its 400 ms x-expires`,
  );
  const reason = await expectChannelClose(conn, (c) => c.checkQueue(q));
  assert.equal(reason.code, 404);
  assert.equal(reason.text, `NOT_FOUND - no queue '${q}' in vhost '/'`);
});

brokerTest("x-expires: basic.get and a re-declare restart the timer", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const args = { "x-expires": 400 };
  const q = await namedQueue(ctx, ch, args);
  // Used every 150 ms for 900 ms: more than twice its x-expires, and still there.
  for (let i = 0; i < 6; i++) {
    const next = Date.now() + 150;
    await waitFor(() => Date.now() >= next, { timeout: 1000 });
    if (i % 2 === 0) assert.equal(await ch.get(q, { noAck: true }), false);
    else await ch.assertQueue(q, { durable: false, exclusive: false, autoDelete: false, arguments: args });
  }
  assert.equal(await queueExists(pub, q), true);
  await waitFor(async () => !(await queueExists(pub, q)), { timeout: 3000, interval: 50 });
});

// ---------------------------------------------------------------------------------------------------------
// Bad values

brokerTest("an invalid expiration closes the channel with 406 and nothing is queued", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const q = await queue(ch);
  const actual: string[] = [];
  const expected: string[] = [];
  for (
    const [exp, why] of [
      ["abc", "no_integer"],
      ["-5", "{value_negative,-5}"],
      ["1.5", `{leftover_string,".5"}`],
    ]
  ) {
    const reason = await expectChannelClose(conn, (c) => {
      c.publish("", q, Buffer.from("x"), { expiration: exp });
      return Promise.resolve();
    });
    actual.push(`${exp} -> ${reason.code} ${reason.text}`);
    expected.push(`${exp} -> 406 PRECONDITION_FAILED - invalid expiration '${exp}': ${why}`);
  }
  assert.deepEqual(actual, expected);
  assert.equal(await messageCount(ch, q), 0);
});

brokerTest("an invalid x-message-ttl is refused with 406 PRECONDITION_FAILED", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const actual: string[] = [];
  const expected: string[] = [];
  for (
    const [ttl, why] of [
      [-1, "{value_negative,-1}"],
      ["abc", `"expected integer, got longstr"`],
    ] as [unknown, string][]
  ) {
    const name = uniqueName("bad-ttl");
    const reason = await expectChannelClose(
      conn,
      (c) => c.assertQueue(name, { exclusive: true, arguments: { "x-message-ttl": ttl } }),
    );
    actual.push(`${JSON.stringify(ttl)} -> ${reason.code} ${reason.text}`);
    expected.push(
      `${
        JSON.stringify(ttl)
      } -> 406 PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue '${name}' in vhost '/': ${why}`,
    );
    const check = await expectChannelClose(conn, (c) => c.checkQueue(name));
    assert.equal(check.code, 404);
  }
  assert.deepEqual(actual, expected);
});
