// Dead-lettering and queue length limits as clients see them: x-dead-letter-exchange /
// x-dead-letter-routing-key for messages rejected or nacked with requeue=false (reason "rejected") and for
// messages pushed out by x-max-length / x-max-length-bytes (reason "maxlen"), the x-death headers, cycles,
// x-overflow (drop-head, reject-publish, reject-publish-dlx) and the refusal of bad arguments. Expected
// values are RabbitMQ 3.10's classic queues (reference run:
// WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5682/ deno test -A <this file>). Warren also writes
// x-last-death-reason/queue/exchange, which RabbitMQ 3.10 does not; those are checked only against Warren.
//
// No bare sleeps: publishes are confirmed, dead-lettered messages are awaited with waitFor, and "nothing
// more arrives" is a bounded assertStaysFalse.

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
  /** Plain channel: gets, consumes, rejects. */
  ch: Channel;
}

async function open(ctx: TestCtx): Promise<Setup> {
  const conn = await amqplibConnect(ctx);
  return { conn, pub: await conn.createConfirmChannel(), ch: await conn.createChannel() };
}

/** An exclusive queue (server-named unless `name` is given) with the given arguments. */
async function queue(ch: Channel, args: Record<string, unknown> = {}, name = ""): Promise<string> {
  const { queue } = await ch.assertQueue(name, { exclusive: true, arguments: args });
  return queue;
}

/** A non-durable exchange; on an external broker it is deleted when the test ends. */
async function exchange(ctx: TestCtx, ch: Channel, type: string): Promise<string> {
  const name = uniqueName("dlx");
  await ch.assertExchange(name, type, { durable: false, autoDelete: false });
  if (isExternal) {
    ctx.defer(async () => {
      const c = await amqplib.connect(ctx.url);
      c.on("error", () => {});
      try {
        await (await c.createChannel()).deleteExchange(name);
      } finally {
        await c.close();
      }
    });
  }
  return name;
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

/** Polls basic.get until `q` yields a message (acknowledgement mode unless noAck). */
async function getOne(ch: Channel, q: string, noAck = false): Promise<GetMessage> {
  let m: GetMessage | false = false;
  await waitFor(async () => (m = await ch.get(q, { noAck })) !== false, {
    message: `no message arrived in ${q}`,
  });
  return m as unknown as GetMessage;
}

async function waitCount(got: unknown[], n: number, what: string): Promise<void> {
  await waitFor(() => got.length >= n, { message: `${what}: ${got.length} of ${n} messages arrived` });
  assert.equal(got.length, n, what);
}

const bodies = (ms: { content: Buffer }[]) => ms.map((m) => m.content.toString());

type Table = Record<string, unknown>;

/** Checks a timestamp as amqplib decodes it ({"!": "timestamp", value: seconds}), close to now. */
function assertRecentTimestamp(v: unknown): number {
  assert.equal(typeof v, "object");
  const t = v as { "!": unknown; value: unknown };
  assert.deepEqual(Object.keys(t).sort(), ["!", "value"]);
  assert.equal(t["!"], "timestamp");
  assert.equal(typeof t.value, "number");
  const now = Date.now() / 1000;
  assert.ok(Math.abs((t.value as number) - now) < 10, `timestamp ${t.value} is not within 10 s of ${now}`);
  return t.value as number;
}

/** Compares the x-death array, each entry's time checked for shape and recency, the rest exactly. */
function assertXDeath(actual: unknown, expected: Table[]): void {
  assert.ok(Array.isArray(actual), `x-death is not an array: ${JSON.stringify(actual)}`);
  assert.equal(actual.length, expected.length, `x-death: ${JSON.stringify(actual)}`);
  const stripped = (actual as Table[]).map(({ time, ...rest }) => {
    assertRecentTimestamp(time);
    return rest;
  });
  assert.deepEqual(stripped, expected);
}

/**
 * Checks the dead-lettering headers: x-death, the x-first-death-* values, the x-last-death-* ones
 * (Warren only; RabbitMQ 3.10 has none) and any other headers given.
 */
function assertDeathHeaders(
  headers: Table | undefined,
  want: {
    xDeath: Table[];
    first: [reason: string, queue: string, exchange: string];
    last: [reason: string, queue: string, exchange: string];
    others?: Table;
  },
): void {
  assert.ok(headers, "message has no headers");
  assertXDeath(headers["x-death"], want.xDeath);
  const rest = { ...headers };
  delete rest["x-death"];
  const expected: Table = {
    ...want.others,
    "x-first-death-reason": want.first[0],
    "x-first-death-queue": want.first[1],
    "x-first-death-exchange": want.first[2],
  };
  if (!isExternal) {
    expected["x-last-death-reason"] = want.last[0];
    expected["x-last-death-queue"] = want.last[1];
    expected["x-last-death-exchange"] = want.last[2];
  }
  assert.deepEqual(rest, expected);
}

// ---------------------------------------------------------------------------------------------------------
// Rejected messages

brokerTest(
  "basic.reject requeue=false dead-letters through the DLX with x-dead-letter-routing-key",
  async (ctx) => {
    const { pub, ch } = await open(ctx);
    const src = await exchange(ctx, pub, "direct");
    const dlx = await exchange(ctx, pub, "direct");
    const dlq = await queue(pub);
    await pub.bindQueue(dlq, dlx, "dead");
    const other = await queue(pub); // bound with the original key: must not get the dead letter
    await pub.bindQueue(other, dlx, "k1");
    const q = await queue(pub, { "x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "dead" });
    await pub.bindQueue(q, src, "k1");
    const dead = await collect(ch, dlq);
    const otherGot = await collect(ch, other);

    assert.equal(
      await publish(pub, src, "k1", "m1", {
        headers: { app: "x" },
        messageId: "id-1",
        contentType: "text/plain",
      }),
      "ack",
    );
    const m = await getOne(ch, q);
    assert.equal(m.content.toString(), "m1");
    assert.equal(m.properties.headers?.["x-death"], undefined);
    ch.reject(m, false);

    await waitCount(dead, 1, "dead-letter queue");
    const d = dead[0];
    assert.equal(d.content.toString(), "m1");
    assert.equal(d.fields.exchange, dlx);
    assert.equal(d.fields.routingKey, "dead");
    assert.equal(d.fields.redelivered, false);
    assert.equal(d.properties.messageId, "id-1");
    assert.equal(d.properties.contentType, "text/plain");
    assert.equal(d.properties.expiration, undefined);
    assertDeathHeaders(d.properties.headers, {
      xDeath: [{ count: 1, reason: "rejected", queue: q, exchange: src, "routing-keys": ["k1"] }],
      first: ["rejected", q, src],
      last: ["rejected", q, src],
      others: { app: "x" },
    });
    await assertStaysFalse(() => otherGot.length > 0 || dead.length > 1, 200);
    assert.equal((await pub.checkQueue(q)).messageCount, 0);
  },
);

brokerTest("basic.nack requeue=false (multiple) dead-letters with the original routing key", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const dlx = await exchange(ctx, pub, "topic");
  const dlq = await queue(pub);
  await pub.bindQueue(dlq, dlx, "#");
  const q = await queue(pub, { "x-dead-letter-exchange": dlx });
  const dead = await collect(ch, dlq);

  for (const b of ["a", "b", "c"]) assert.equal(await publish(pub, "", q, b), "ack");
  const ms = [await getOne(ch, q), await getOne(ch, q), await getOne(ch, q)];
  assert.deepEqual(bodies(ms), ["a", "b", "c"]);
  ch.nack(ms[1], true, false); // a and b
  await waitCount(dead, 2, "dead-letter queue after nack multiple");
  ch.nack(ms[2], false, false);
  await waitCount(dead, 3, "dead-letter queue after nack");

  assert.deepEqual(bodies(dead), ["a", "b", "c"]);
  for (const d of dead) {
    assert.equal(d.fields.exchange, dlx);
    assert.equal(d.fields.routingKey, q);
    assertDeathHeaders(d.properties.headers, {
      xDeath: [{ count: 1, reason: "rejected", queue: q, exchange: "", "routing-keys": [q] }],
      first: ["rejected", q, ""],
      last: ["rejected", q, ""],
    });
  }
});

brokerTest(
  "requeue=true does not dead-letter; a queue without a DLX drops rejected messages",
  async (ctx) => {
    const { pub, ch } = await open(ctx);
    const dlq = await queue(pub);
    const q = await queue(pub, { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq });
    const plain = await queue(pub);
    const dead = await collect(ch, dlq);
    assert.equal(await publish(pub, "", q, "back"), "ack");
    assert.equal(await publish(pub, "", plain, "gone"), "ack");

    const m = await getOne(ch, q);
    ch.reject(m, true);
    const again = await getOne(ch, q);
    assert.equal(again.content.toString(), "back");
    assert.equal(again.fields.redelivered, true);
    assert.equal(again.properties.headers?.["x-death"], undefined);
    ch.ack(again);

    ch.reject(await getOne(ch, plain), false);
    await assertStaysFalse(() => dead.length > 0, 200);
    assert.equal((await pub.checkQueue(plain)).messageCount, 0);
    assert.equal((await pub.checkQueue(q)).messageCount, 0);
  },
);

brokerTest("the expiration is removed and kept in x-death as original-expiration", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const dlq = await queue(pub);
  const q = await queue(pub, { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq });
  const dead = await collect(ch, dlq);
  assert.equal(await publish(pub, "", q, "ttl", { expiration: "60000", headers: { h: 1 } }), "ack");
  const m = await getOne(ch, q);
  assert.equal(m.properties.expiration, "60000");
  ch.reject(m, false);

  await waitCount(dead, 1, "dead-letter queue");
  const d = dead[0];
  assert.equal(d.fields.exchange, "");
  assert.equal(d.fields.routingKey, dlq);
  assert.equal(d.properties.expiration, undefined);
  assertDeathHeaders(d.properties.headers, {
    xDeath: [{
      count: 1,
      reason: "rejected",
      queue: q,
      exchange: "",
      "routing-keys": [q],
      "original-expiration": "60000",
    }],
    first: ["rejected", q, ""],
    last: ["rejected", q, ""],
    others: { h: 1 },
  });
});

brokerTest(
  "dead-lettered twice through the same queue: count increments and the entry moves first",
  async (ctx) => {
    const { pub, ch } = await open(ctx);
    const n1 = uniqueName("dl-a");
    const n2 = uniqueName("dl-b");
    await queue(pub, { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": n2 }, n1);
    await queue(pub, { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": n1 }, n2);
    // Published through amq.direct, so that n1's entry differs from what its second death would write.
    await pub.bindQueue(n1, "amq.direct", `${n1}.k`);
    assert.equal(await publish(pub, "amq.direct", `${n1}.k`, "ping"), "ack");

    // n1 -> n2
    ch.reject(await getOne(ch, n1), false);
    let m = await getOne(ch, n2);
    assert.equal(m.fields.routingKey, n2);
    const e1 = {
      count: 1,
      reason: "rejected",
      queue: n1,
      exchange: "amq.direct",
      "routing-keys": [`${n1}.k`],
    };
    assertDeathHeaders(m.properties.headers, {
      xDeath: [e1],
      first: ["rejected", n1, "amq.direct"],
      last: ["rejected", n1, "amq.direct"],
    });
    // n2 -> n1: a second entry, first in the array
    ch.reject(m, false);
    m = await getOne(ch, n1);
    const e2 = { count: 1, reason: "rejected", queue: n2, exchange: "", "routing-keys": [n2] };
    assertDeathHeaders(m.properties.headers, {
      xDeath: [e2, e1],
      first: ["rejected", n1, "amq.direct"],
      last: ["rejected", n2, ""],
    });
    const t1 = (m.properties.headers!["x-death"] as unknown as Table[])[1].time;
    // n1 -> n2 again, in a later second: n1's entry counts 2 and moves first, keeping its time, exchange
    // and routing-keys (RabbitMQ 3.10); the first-death values stay, the last-death ones are this death's
    const t1s = assertRecentTimestamp(t1);
    // Well into a later second (a broker's clock may be coarse, updated a few times a second).
    await waitFor(() => Date.now() >= (t1s + 1) * 1000 + 500, { timeout: 3000 });
    ch.reject(m, false);
    m = await getOne(ch, n2);
    assertDeathHeaders(m.properties.headers, {
      xDeath: [{ ...e1, count: 2 }, e2],
      first: ["rejected", n1, "amq.direct"],
      last: ["rejected", n1, ""],
    });
    assert.deepEqual(
      (m.properties.headers!["x-death"] as unknown as Table[])[0].time,
      t1,
      "the entry keeps its time",
    );
    ch.ack(m);
  },
);

brokerTest("a rejection cycle back into the same queue is allowed and counts up", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const n = uniqueName("dl-self");
  await queue(pub, { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": n }, n);
  assert.equal(await publish(pub, "", n, "loop"), "ack");
  let m = await getOne(ch, n);
  for (let i = 1; i <= 3; i++) {
    ch.reject(m, false);
    m = await getOne(ch, n);
    assert.equal(m.content.toString(), "loop");
    assert.equal(m.fields.redelivered, false);
    assertDeathHeaders(m.properties.headers, {
      xDeath: [{ count: i, reason: "rejected", queue: n, exchange: "", "routing-keys": [n] }],
      first: ["rejected", n, ""],
      last: ["rejected", n, ""],
    });
  }
  ch.ack(m);
});

brokerTest(
  "CC keys are recorded in routing-keys and, without a DL routing key, route the dead letter",
  async (ctx) => {
    const { pub, ch } = await open(ctx);
    const src = await exchange(ctx, pub, "direct");
    const dlx = await exchange(ctx, pub, "direct");
    const byK1 = await queue(pub);
    await pub.bindQueue(byK1, dlx, "k1");
    const byK2 = await queue(pub);
    await pub.bindQueue(byK2, dlx, "k2");
    const q = await queue(pub, { "x-dead-letter-exchange": dlx });
    await pub.bindQueue(q, src, "k1");
    const got1 = await collect(ch, byK1);
    const got2 = await collect(ch, byK2);
    assert.equal(await publish(pub, src, "k1", "cc", { CC: ["k2"], BCC: ["k3"] }), "ack");
    ch.reject(await getOne(ch, q), false);
    await waitCount(got1, 1, "queue bound with k1");
    await waitCount(got2, 1, "queue bound with k2");
    for (const d of [got1[0], got2[0]]) {
      assert.equal(d.fields.exchange, dlx);
      assert.equal(d.fields.routingKey, "k1");
      assertDeathHeaders(d.properties.headers, {
        xDeath: [{ count: 1, reason: "rejected", queue: q, exchange: src, "routing-keys": ["k1", "k2"] }],
        first: ["rejected", q, src],
        last: ["rejected", q, src],
        others: { CC: ["k2"] },
      });
    }
    await assertStaysFalse(() => got1.length > 1 || got2.length > 1, 200);
  },
);

brokerTest("a DLX that does not exist drops the message and the channel stays open", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const q = await queue(pub, { "x-dead-letter-exchange": uniqueName("no-such-exchange") });
  assert.equal(await publish(pub, "", q, "lost"), "ack");
  ch.reject(await getOne(ch, q), false);
  await waitFor(async () => (await ch.checkQueue(q)).messageCount === 0);
  assert.equal(await publish(pub, "", q, "next"), "ack");
  const m = await getOne(ch, q, true);
  assert.equal(m.content.toString(), "next");
  assert.equal(m.properties.headers?.["x-death"], undefined);
});

brokerTest("queue.purge and queue.delete do not dead-letter", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const dlq = await queue(pub);
  const args = { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq };
  const q1 = await queue(pub, args);
  const q2 = await queue(pub, args);
  const dead = await collect(ch, dlq);
  for (const q of [q1, q2]) assert.equal(await publish(pub, "", q, "x"), "ack");
  assert.equal((await pub.purgeQueue(q1)).messageCount, 1);
  assert.equal((await pub.deleteQueue(q2)).messageCount, 1);
  await assertStaysFalse(() => dead.length > 0, 200);
});

// ---------------------------------------------------------------------------------------------------------
// Length limits

brokerTest(
  "x-max-length drop-head (default) dead-letters the oldest ready messages as maxlen",
  async (ctx) => {
    const { pub, ch } = await open(ctx);
    const dlx = await exchange(ctx, pub, "fanout");
    const dlq = await queue(pub);
    await pub.bindQueue(dlq, dlx, "");
    const q = await queue(pub, { "x-max-length": 2, "x-dead-letter-exchange": dlx });
    const dead = await collect(ch, dlq);

    for (const b of ["m1", "m2", "m3", "m4"]) assert.equal(await publish(pub, "", q, b), "ack");
    await waitCount(dead, 2, "dead-letter queue");
    assert.deepEqual(bodies(dead), ["m1", "m2"]);
    for (const d of dead) {
      assert.equal(d.fields.exchange, dlx);
      assert.equal(d.fields.routingKey, q);
      assertDeathHeaders(d.properties.headers, {
        xDeath: [{ count: 1, reason: "maxlen", queue: q, exchange: "", "routing-keys": [q] }],
        first: ["maxlen", q, ""],
        last: ["maxlen", q, ""],
      });
    }
    assert.equal((await pub.checkQueue(q)).messageCount, 2);
    assert.deepEqual(bodies([await getOne(ch, q, true), await getOne(ch, q, true)]), ["m3", "m4"]);
  },
);

brokerTest("x-max-length 0 dead-letters every message at once", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const dlq = await queue(pub);
  const q = await queue(pub, {
    "x-max-length": 0,
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": dlq,
  });
  const dead = await collect(ch, dlq);
  for (const b of ["m1", "m2"]) assert.equal(await publish(pub, "", q, b), "ack");
  await waitCount(dead, 2, "dead-letter queue");
  assert.deepEqual(bodies(dead), ["m1", "m2"]);
  assertDeathHeaders(dead[1].properties.headers, {
    xDeath: [{ count: 1, reason: "maxlen", queue: q, exchange: "", "routing-keys": [q] }],
    first: ["maxlen", q, ""],
    last: ["maxlen", q, ""],
  });
  assert.equal((await pub.checkQueue(q)).messageCount, 0);
});

brokerTest("x-max-length counts only ready messages; explicit drop-head without a DLX drops", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const q = await queue(pub, { "x-max-length": 1, "x-overflow": "drop-head" });
  assert.equal(await publish(pub, "", q, "m1"), "ack");
  const held = await getOne(ch, q); // unacked: not counted
  for (const b of ["m2", "m3"]) assert.equal(await publish(pub, "", q, b), "ack");
  assert.equal((await pub.checkQueue(q)).messageCount, 1);
  const m = await getOne(ch, q, true);
  assert.equal(m.content.toString(), "m3");
  ch.ack(held);
  assert.equal((await pub.checkQueue(q)).messageCount, 0);
});

brokerTest("x-max-length-bytes drop-head dead-letters by body size", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const dlq = await queue(pub);
  const q = await queue(pub, {
    "x-max-length-bytes": 10,
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": dlq,
  });
  const dead = await collect(ch, dlq);
  assert.equal(await publish(pub, "", q, "aaaa"), "ack"); // 4
  assert.equal(await publish(pub, "", q, "bbbb"), "ack"); // 8
  assert.equal(await publish(pub, "", q, "cc"), "ack"); // 10: still fits
  assert.equal(await publish(pub, "", q, "dddd"), "ack"); // 14: aaaa goes -> 10
  await waitCount(dead, 1, "dead-letter queue");
  assert.equal(await publish(pub, "", q, "eeeeeeee"), "ack"); // 18: bbbb, cc go -> 12, dddd goes -> 8
  await waitCount(dead, 4, "dead-letter queue");
  assert.deepEqual(bodies(dead), ["aaaa", "bbbb", "cc", "dddd"]);
  assertDeathHeaders(dead[3].properties.headers, {
    xDeath: [{ count: 1, reason: "maxlen", queue: q, exchange: "", "routing-keys": [q] }],
    first: ["maxlen", q, ""],
    last: ["maxlen", q, ""],
  });
  assert.equal((await pub.checkQueue(q)).messageCount, 1);
  assert.equal((await getOne(ch, q, true)).content.toString(), "eeeeeeee");
});

brokerTest(
  "x-overflow reject-publish: the confirm is a nack and the message is neither queued nor dead-lettered",
  async (ctx) => {
    const { pub, ch } = await open(ctx);
    const dlq = await queue(pub);
    const q = await queue(pub, {
      "x-max-length": 1,
      "x-overflow": "reject-publish",
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": dlq,
    });
    const dead = await collect(ch, dlq);
    assert.deepEqual(
      await Promise.all(["m1", "m2", "m3"].map((b) => publish(pub, "", q, b))),
      ["ack", "nack", "nack"],
    );
    assert.equal((await pub.checkQueue(q)).messageCount, 1);
    await assertStaysFalse(() => dead.length > 0, 200);
    assert.equal((await getOne(ch, q, true)).content.toString(), "m1");
    // Room again: accepted.
    assert.equal(await publish(pub, "", q, "m4"), "ack");
    assert.equal((await getOne(ch, q, true)).content.toString(), "m4");
  },
);

brokerTest(
  "x-overflow reject-publish-dlx: the confirm is a nack and the message is dead-lettered as maxlen",
  async (ctx) => {
    const { pub, ch } = await open(ctx);
    const dlq = await queue(pub);
    const q = await queue(pub, {
      "x-max-length": 1,
      "x-overflow": "reject-publish-dlx",
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": dlq,
    });
    const dead = await collect(ch, dlq);
    assert.deepEqual(
      await Promise.all(["m1", "m2", "m3"].map((b) => publish(pub, "", q, b, { expiration: "50000" }))),
      ["ack", "nack", "nack"],
    );
    await waitCount(dead, 2, "dead-letter queue");
    assert.deepEqual(bodies(dead), ["m2", "m3"]);
    for (const d of dead) {
      assert.equal(d.fields.exchange, "");
      assert.equal(d.fields.routingKey, dlq);
      assert.equal(d.properties.expiration, undefined);
      assertDeathHeaders(d.properties.headers, {
        xDeath: [{
          count: 1,
          reason: "maxlen",
          queue: q,
          exchange: "",
          "routing-keys": [q],
          "original-expiration": "50000",
        }],
        first: ["maxlen", q, ""],
        last: ["maxlen", q, ""],
      });
    }
    assert.equal((await pub.checkQueue(q)).messageCount, 1);
    assert.equal((await getOne(ch, q, true)).content.toString(), "m1");
  },
);

brokerTest("a maxlen cycle back into the same queue drops the message", async (ctx) => {
  const { pub, ch } = await open(ctx);
  const n = uniqueName("dl-cycle");
  await queue(pub, { "x-max-length": 1, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": n }, n);
  for (const b of ["m1", "m2", "m3"]) assert.equal(await publish(pub, "", n, b), "ack");
  assert.equal((await pub.checkQueue(n)).messageCount, 1);
  const got = await collect(ch, n);
  await waitCount(got, 1, "queue");
  assert.deepEqual(bodies(got), ["m3"]);
  await assertStaysFalse(() => got.length > 1, 200);
});

// ---------------------------------------------------------------------------------------------------------
// Bad arguments

const badArgs: [Record<string, unknown>, string][] = [
  [
    { "x-max-length": "abc" },
    `invalid arg 'x-max-length' for queue 'Q' in vhost '/': "expected integer, got longstr"`,
  ],
  [{ "x-max-length": -1 }, `invalid arg 'x-max-length' for queue 'Q' in vhost '/': {value_negative,-1}`],
  [
    { "x-max-length": 1.5 },
    `invalid arg 'x-max-length' for queue 'Q' in vhost '/': "expected integer, got double"`,
  ],
  [
    { "x-max-length-bytes": "x" },
    `invalid arg 'x-max-length-bytes' for queue 'Q' in vhost '/': "expected integer, got longstr"`,
  ],
  [
    { "x-max-length-bytes": -3 },
    `invalid arg 'x-max-length-bytes' for queue 'Q' in vhost '/': {value_negative,-3}`,
  ],
  [{ "x-overflow": "bogus" }, `invalid arg 'x-overflow' for queue 'Q' in vhost '/': invalid_overflow`],
  [{ "x-overflow": 5 }, `invalid arg 'x-overflow' for queue 'Q' in vhost '/': {unacceptable_type,byte}`],
  [
    { "x-dead-letter-exchange": 5 },
    `invalid type 'byte' for arg 'x-dead-letter-exchange' in queue 'Q' in vhost '/'`,
  ],
  [
    { "x-dead-letter-routing-key": "k" },
    `invalid arg 'x-dead-letter-routing-key' for queue 'Q' in vhost '/': routing_key_but_no_dlx_defined`,
  ],
  [
    { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": 5 },
    `invalid arg 'x-dead-letter-routing-key' for queue 'Q' in vhost '/': {unacceptable_type,byte}`,
  ],
];

brokerTest(
  "bad dead-letter and length-limit arguments are refused with 406 PRECONDITION_FAILED",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createChannel();
    // Every case is tried before comparing, so that a failure lists all the differences at once.
    const actual: string[] = [];
    const expected: string[] = [];
    for (const [args, text] of badArgs) {
      const name = uniqueName("bad-args");
      const reason = await expectChannelClose(
        conn,
        (c) => c.assertQueue(name, { exclusive: true, arguments: args }),
      );
      actual.push(`${JSON.stringify(args)} -> ${reason.code} ${reason.text}`);
      expected.push(
        `${JSON.stringify(args)} -> 406 PRECONDITION_FAILED - ${text.replace("'Q'", `'${name}'`)}`,
      );
      // Nothing was declared.
      const check = await expectChannelClose(conn, (c) => c.checkQueue(name));
      assert.equal(check.code, 404);
    }
    assert.deepEqual(actual, expected);
    // Valid values are accepted.
    for (const overflow of ["drop-head", "reject-publish", "reject-publish-dlx"]) {
      await queue(ch, { "x-overflow": overflow, "x-max-length": 0, "x-max-length-bytes": 0 });
    }
  },
);
