// Routing as clients see it: RabbitMQ tutorials 3 (fanout), 4 (direct) and 5 (topic) as tests, the finer
// points of topic patterns, the headers exchange (x-match all / any), exchange-to-exchange bindings,
// alternate exchanges, the CC / BCC headers, and bindings with arguments. Expected values are RabbitMQ
// 3.10's (reference run: WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5682/ deno test -A <this file>).
//
// Deliveries are checked without sleeping: every message is published mandatory on a confirm channel
// (RabbitMQ sends basic.return before basic.ack, so after the confirm the returns are known), and a
// sentinel sent last to every queue through the default exchange marks the end of what it can receive
// (one channel's messages reach a queue in publish order).

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, isExternal, type TestCtx, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, type CloseReason, closeReason, expectChannelClose } from "./_clients.ts";
import { amqplib } from "./_deps.ts";
import type { AmqplibConnection, Channel, ConfirmChannel, ConsumeMessage, Message } from "./_deps.ts";

// ---------------------------------------------------------------------------------------------------------
// Harness

const SYNC = "__sync-";

/** One connection with a confirm channel for declaring and publishing, and collectors for queues. */
class Harness {
  readonly returns: Message[] = [];
  readonly #got = new Map<string, ConsumeMessage[]>();
  #syncs = 0;

  private constructor(
    readonly ctx: TestCtx,
    readonly conn: AmqplibConnection,
    readonly pub: ConfirmChannel,
    readonly sub: Channel,
  ) {
    pub.on("return", (m: Message) => this.returns.push(m));
    conn.on("error", (e: unknown) => (this.connectionClosed = closeReason(e)));
  }

  /** Set when the server closed the connection (e.g. 503 for an exchange type it does not know). */
  connectionClosed: CloseReason | undefined;

  static async open(ctx: TestCtx): Promise<Harness> {
    const conn = await amqplibConnect(ctx);
    return new Harness(ctx, conn, await conn.createConfirmChannel(), await conn.createChannel());
  }

  /** Declares an exchange; on an external broker it is deleted when the test ends. */
  async exchange(name: string, type: string, opts: Record<string, unknown> = {}): Promise<string> {
    try {
      await this.pub.assertExchange(name, type, { durable: false, autoDelete: false, ...opts });
    } catch (e) {
      // Name the real cause rather than amqplib's "Channel ended, no reply will be forthcoming".
      await waitFor(() => this.connectionClosed !== undefined, { timeout: 1000 }).catch(() => {});
      const why = this.connectionClosed
        ? `connection closed with ${JSON.stringify(this.connectionClosed)}`
        : e;
      throw new Error(`exchange.declare '${name}' of type '${type}' failed: ${why}`);
    }
    dropLater(this.ctx, name);
    return name;
  }

  /** An exclusive server-named queue with a no-ack consumer collecting its deliveries. */
  async queue(): Promise<string> {
    const { queue } = await this.sub.assertQueue("", { exclusive: true });
    await this.collect(this.sub, queue);
    return queue;
  }

  async collect(ch: Channel, queue: string): Promise<void> {
    const got: ConsumeMessage[] = [];
    this.#got.set(queue, got);
    await ch.consume(queue, (m) => m && got.push(m), { noAck: true });
  }

  publish(exchange: string, routingKey: string, body = routingKey, headers?: Record<string, unknown>): void {
    this.pub.publish(exchange, routingKey, Buffer.from(body), { mandatory: true, headers });
  }

  /** Waits for every confirm, then until every collected queue has seen a fresh sentinel. */
  async settle(): Promise<void> {
    const tag = `${SYNC}${++this.#syncs}`;
    for (const q of this.#got.keys()) this.pub.publish("", q, Buffer.from(tag));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.pub.waitForConfirms(),
      new Promise((_, reject) =>
        timer = setTimeout(() => reject(new Error("no publisher confirm within 5 s (routing hangs?)")), 5000)
      ),
    ]).finally(() => clearTimeout(timer));
    for (const [q, got] of this.#got) {
      await waitFor(() => got.some((m) => m.content.toString() === tag), {
        message: `queue ${q} never received ${tag}; it has ${JSON.stringify(bodiesOf(got))}`,
      });
    }
  }

  /** Bodies delivered to `queue`, in order, sentinels left out. */
  bodies(queue: string): string[] {
    return bodiesOf(this.#got.get(queue)!);
  }

  /** Messages delivered to `queue`, in order, sentinels left out. */
  delivered(queue: string): ConsumeMessage[] {
    return this.#got.get(queue)!.filter((m) => !m.content.toString().startsWith(SYNC));
  }

  /** Routing keys of the messages returned (312 NO_ROUTE) so far, in order. */
  returnedKeys(): string[] {
    for (const r of this.returns) {
      const f = r.fields as unknown as { replyCode: number; replyText: string };
      assert.deepEqual([f.replyCode, f.replyText], [312, "NO_ROUTE"]);
    }
    return this.returns.map((r) => r.fields.routingKey);
  }
}

function bodiesOf(got: ConsumeMessage[]): string[] {
  return got.map((m) => m.content.toString()).filter((b) => !b.startsWith(SYNC));
}

/** On an external broker, deletes the exchange after the test (Warren's broker is thrown away). */
function dropLater(ctx: TestCtx, exchange: string): void {
  if (!isExternal) return;
  ctx.defer(async () => {
    const c = await amqplib.connect(ctx.url);
    c.on("error", () => {});
    try {
      await (await c.createChannel()).deleteExchange(exchange);
    } finally {
      await c.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Tutorial 3: publish/subscribe

brokerTest("tutorial 3: fanout 'logs' delivers every message to every subscriber's queue", async (ctx) => {
  const h = await Harness.open(ctx);
  const logs = await h.exchange(uniqueName("logs"), "fanout");

  // Three subscribers, each on its own connection with an exclusive server-named queue.
  const queues: string[] = [];
  for (let i = 0; i < 3; i++) {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createChannel();
    await ch.assertExchange(logs, "fanout", { durable: false, autoDelete: false });
    const { queue } = await ch.assertQueue("", { exclusive: true });
    assert.match(queue, /^amq\.gen-/);
    await ch.bindQueue(queue, logs, "");
    await h.collect(ch, queue);
    queues.push(queue);
  }
  assert.equal(new Set(queues).size, 3, "server-named queues are distinct");

  const lines = ["info: Hello World!", "warning: disk 91% full", "error: out of memory"];
  lines.forEach((l, i) => h.publish(logs, i === 1 ? "any.key" : "", l)); // fanout ignores the key
  await h.settle();
  for (const q of queues) assert.deepEqual(h.bodies(q), lines, `subscriber ${q}`);
  assert.deepEqual(h.returnedKeys(), []);
});

// ---------------------------------------------------------------------------------------------------------
// Tutorial 4: routing

brokerTest("tutorial 4: direct 'direct_logs' routes by severity; a queue bound twice", async (ctx) => {
  const h = await Harness.open(ctx);
  const x = await h.exchange(uniqueName("direct_logs"), "direct");
  // receive_logs_direct.js error         -> disk writer
  // receive_logs_direct.js info warning error -> console
  const disk = await h.queue();
  await h.pub.bindQueue(disk, x, "error");
  const screen = await h.queue();
  for (const sev of ["info", "warning", "error"]) await h.pub.bindQueue(screen, x, sev);
  // Multiple bindings: a third queue also bound with "error" (both get error messages).
  const pager = await h.queue();
  await h.pub.bindQueue(pager, x, "error");
  // A queue bound with two keys gets a message matching either, once.
  const two = await h.queue();
  await h.pub.bindQueue(two, x, "warning");
  await h.pub.bindQueue(two, x, "error");

  h.publish(x, "info", "info: Hello");
  h.publish(x, "error", "error: Run. Run. Or it will explode.");
  h.publish(x, "warning", "warning: disk");
  h.publish(x, "debug", "debug: nobody listens");
  h.publish(x, "Error", "case matters");
  await h.settle();

  assert.deepEqual(h.bodies(disk), ["error: Run. Run. Or it will explode."]);
  assert.deepEqual(h.bodies(screen), [
    "info: Hello",
    "error: Run. Run. Or it will explode.",
    "warning: disk",
  ]);
  assert.deepEqual(h.bodies(pager), ["error: Run. Run. Or it will explode."]);
  assert.deepEqual(h.bodies(two), ["error: Run. Run. Or it will explode.", "warning: disk"]);
  assert.deepEqual(h.returnedKeys(), ["debug", "Error"]);
});

// ---------------------------------------------------------------------------------------------------------
// Tutorial 5: topics

brokerTest("tutorial 5: topic 'topic_logs' with *.orange.*, *.*.rabbit and lazy.#", async (ctx) => {
  const h = await Harness.open(ctx);
  const x = await h.exchange(uniqueName("topic_logs"), "topic");
  const q1 = await h.queue();
  await h.pub.bindQueue(q1, x, "*.orange.*");
  const q2 = await h.queue();
  await h.pub.bindQueue(q2, x, "*.*.rabbit");
  await h.pub.bindQueue(q2, x, "lazy.#");

  const keys = [
    "quick.orange.rabbit", // Q1, Q2
    "lazy.orange.elephant", // Q1, Q2
    "quick.orange.fox", // Q1
    "lazy.brown.fox", // Q2
    "lazy.pink.rabbit", // Q2, once, though it matches both of Q2's bindings
    "quick.brown.fox", // nowhere
    "orange", // nowhere: one word
    "quick.orange.new.rabbit", // nowhere: four words
    "quick.orange.male.rabbit", // nowhere: four words
    "lazy.orange.new.rabbit", // Q2: lazy.# takes any number of words
    "lazy.orange.male.rabbit", // Q2, once
  ];
  for (const k of keys) h.publish(x, k);
  await h.settle();

  assert.deepEqual(h.bodies(q1), ["quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox"]);
  assert.deepEqual(h.bodies(q2), [
    "quick.orange.rabbit",
    "lazy.orange.elephant",
    "lazy.brown.fox",
    "lazy.pink.rabbit",
    "lazy.orange.new.rabbit",
    "lazy.orange.male.rabbit",
  ]);
  assert.deepEqual(h.returnedKeys(), [
    "quick.brown.fox",
    "orange",
    "quick.orange.new.rabbit",
    "quick.orange.male.rabbit",
  ]);
});

brokerTest(
  "topic: # matches zero or more words, * exactly one (possibly empty) word; the empty key has none",
  async (ctx) => {
    const h = await Harness.open(ctx);
    const x = await h.exchange(uniqueName("topic"), "topic");
    const patterns = ["#", "*", "a.*.c", "a.#.c", "#.z", "a.#", "*.*", "lazy.#.#"];
    const q = new Map<string, string>();
    for (const p of patterns) {
      const queue = await h.queue();
      await h.pub.bindQueue(queue, x, p);
      q.set(p, queue);
    }
    const keys = ["", "a", "a.c", "a.b.c", "a.b.b.c", "a..c", "z", "x.y.z", "a.z", "lazy", "b.a.c"];
    keys.forEach((k, i) => h.publish(x, k, `${i}:${k}`));
    await h.settle();

    const got = (p: string) => h.bodies(q.get(p)!).map((b) => b.slice(b.indexOf(":") + 1));
    assert.deepEqual(got("#"), keys);
    // The empty key has no words at all (only # takes it); "a..c" has an empty middle word.
    assert.deepEqual(got("*"), ["a", "z", "lazy"]);
    assert.deepEqual(got("a.*.c"), ["a.b.c", "a..c"]);
    assert.deepEqual(got("a.#.c"), ["a.c", "a.b.c", "a.b.b.c", "a..c"]);
    assert.deepEqual(got("#.z"), ["z", "x.y.z", "a.z"]);
    assert.deepEqual(got("a.#"), ["a", "a.c", "a.b.c", "a.b.b.c", "a..c", "a.z"]);
    assert.deepEqual(got("*.*"), ["a.c", "a.z"]);
    assert.deepEqual(got("lazy.#.#"), ["lazy"]);
    assert.deepEqual(h.returnedKeys(), []);
  },
);

brokerTest("topic: amq.topic exists; unbinding a pattern stops its deliveries", async (ctx) => {
  const h = await Harness.open(ctx);
  await h.pub.checkExchange("amq.topic");
  assert.deepEqual(await h.pub.assertExchange("amq.topic", "topic", { durable: true }), {
    exchange: "amq.topic",
  });
  const q = await h.queue();
  const pattern = `${uniqueName("k")}.#`;
  const root = pattern.slice(0, -2);
  await h.pub.bindQueue(q, "amq.topic", pattern);
  h.publish("amq.topic", `${root}.one`, "one");
  await h.settle();
  assert.deepEqual(h.bodies(q), ["one"]);
  await h.pub.unbindQueue(q, "amq.topic", pattern);
  h.publish("amq.topic", `${root}.two`, "two");
  await h.settle();
  assert.deepEqual(h.bodies(q), ["one"]);
  assert.deepEqual(h.returnedKeys(), [`${root}.two`]);
});

// ---------------------------------------------------------------------------------------------------------
// Headers exchange

brokerTest("headers: x-match all, any and the default (all); the routing key is ignored", async (ctx) => {
  const h = await Harness.open(ctx);
  const x = await h.exchange(uniqueName("headers"), "headers");
  const all = await h.queue();
  await h.pub.bindQueue(all, x, "", { "x-match": "all", format: "pdf", type: "report" });
  const any = await h.queue();
  await h.pub.bindQueue(any, x, "", { "x-match": "any", format: "pdf", type: "log" });
  const dflt = await h.queue();
  await h.pub.bindQueue(dflt, x, "ignored-key", { format: "zip", type: "log" });

  h.publish(x, "", "m1", { format: "pdf", type: "report" }); // all, any
  h.publish(x, "", "m2", { format: "pdf", type: "log" }); // any
  h.publish(x, "whatever", "m3", { format: "zip", type: "log" }); // any, default
  h.publish(x, "", "m4", { format: "zip" }); // nowhere
  h.publish(x, "", "m5", { format: "pdf", type: "report", extra: "yes" }); // all, any
  h.publish(x, "", "m6"); // nowhere: no headers
  h.publish(x, "", "m7", { type: "report" }); // nowhere
  h.publish(x, "", "m8", { format: "PDF", type: "Log" }); // nowhere: values are case-sensitive
  await h.settle();

  assert.deepEqual(h.bodies(all), ["m1", "m5"]);
  assert.deepEqual(h.bodies(any), ["m1", "m2", "m3", "m5"]);
  assert.deepEqual(h.bodies(dflt), ["m3"]);
  assert.deepEqual(h.returnedKeys(), ["", "", "", ""]);
  assert.deepEqual(h.returns.map((r) => r.content.toString()), ["m4", "m6", "m7", "m8"]);
});

brokerTest(
  "headers: value types, a void binding value means presence, x- arguments are ignored",
  async (ctx) => {
    const h = await Harness.open(ctx);
    const x = await h.exchange(uniqueName("headers"), "headers");
    const num = await h.queue();
    await h.pub.bindQueue(num, x, "", { "x-match": "all", n: 1 });
    const present = await h.queue();
    await h.pub.bindQueue(present, x, "", { "x-match": "all", p: null });
    const empty = await h.queue();
    await h.pub.bindQueue(empty, x, "", { "x-match": "any", "x-extra": "ignored" });
    const emptyAll = await h.queue();
    await h.pub.bindQueue(emptyAll, x, "", { "x-match": "all", "x-extra": "ignored" });

    h.publish(x, "", "n-int", { n: 1 }); // num, emptyAll
    h.publish(x, "", "n-str", { n: "1" }); // emptyAll: "1" is not 1
    h.publish(x, "", "p-str", { p: "anything" }); // present, emptyAll
    h.publish(x, "", "p-int", { p: 7 }); // present, emptyAll
    h.publish(x, "", "none"); // emptyAll
    await h.settle();

    assert.deepEqual(h.bodies(num), ["n-int"]);
    assert.deepEqual(h.bodies(present), ["p-str", "p-int"]);
    // x-match any with no (non x-) keys matches nothing; all matches everything.
    assert.deepEqual(h.bodies(empty), []);
    assert.deepEqual(h.bodies(emptyAll), ["n-int", "n-str", "p-str", "p-int", "none"]);
    assert.deepEqual(h.returnedKeys(), []);
  },
);

brokerTest("headers: amq.match and amq.headers exist and route as headers exchanges", async (ctx) => {
  const h = await Harness.open(ctx);
  const tag = uniqueName("tag");
  const qm = await h.queue();
  const qh = await h.queue();
  await h.pub.checkExchange("amq.match");
  await h.pub.checkExchange("amq.headers");
  // Redeclaring them with their own type and flags is allowed.
  await h.pub.assertExchange("amq.match", "headers", { durable: true });
  await h.pub.assertExchange("amq.headers", "headers", { durable: true });
  await h.pub.bindQueue(qm, "amq.match", "", { "x-match": "any", tag, other: "x" });
  await h.pub.bindQueue(qh, "amq.headers", "", { tag });
  h.publish("amq.match", "", "to-match", { tag });
  h.publish("amq.headers", "", "to-headers", { tag });
  h.publish("amq.headers", "", "no-tag", { tag: "other" });
  await h.settle();
  assert.deepEqual(h.bodies(qm), ["to-match"]);
  assert.deepEqual(h.bodies(qh), ["to-headers"]);
  assert.deepEqual(h.returns.map((r) => [r.fields.exchange, r.content.toString()]), [[
    "amq.headers",
    "no-tag",
  ]]);
  await h.pub.unbindQueue(qm, "amq.match", "", { "x-match": "any", tag, other: "x" });
  await h.pub.unbindQueue(qh, "amq.headers", "", { tag });
});

brokerTest("headers: an invalid x-match is refused with 406 PRECONDITION_FAILED", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue("", { exclusive: true });
  assert.deepEqual(
    await expectChannelClose(conn, (c) => c.bindQueue(queue, "amq.headers", "", { "x-match": "some" })),
    {
      code: 406,
      text:
        'PRECONDITION_FAILED - Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x',
    },
  );
  assert.deepEqual(
    await expectChannelClose(conn, (c) => c.bindQueue(queue, "amq.headers", "", { "x-match": 1 })),
    { code: 406, text: "PRECONDITION_FAILED - Invalid x-match field type byte (value 1); expected longstr" },
  );
  await ch.close();
});

// ---------------------------------------------------------------------------------------------------------
// Exchange-to-exchange bindings

brokerTest("e2e: a chain e1 -direct-> e2 -fanout-> e3 -direct-> queue keeps the routing key", async (ctx) => {
  const h = await Harness.open(ctx);
  const e1 = await h.exchange(uniqueName("e1"), "direct");
  const e2 = await h.exchange(uniqueName("e2"), "fanout");
  const e3 = await h.exchange(uniqueName("e3"), "direct");
  await h.pub.bindExchange(e2, e1, "k");
  await h.pub.bindExchange(e3, e2, "ignored-by-fanout");
  const mid = await h.queue();
  await h.pub.bindQueue(mid, e2, "");
  const end = await h.queue();
  await h.pub.bindQueue(end, e3, "k");

  h.publish(e1, "k", "via-e1"); // e1 -> e2 (mid) -> e3 -> end
  h.publish(e1, "j", "stopped-at-e1"); // returned
  h.publish(e2, "j", "via-e2"); // mid; e3 has nothing for "j"
  h.publish(e3, "k", "via-e3"); // end
  await h.settle();

  assert.deepEqual(h.bodies(mid), ["via-e1", "via-e2"]);
  assert.deepEqual(h.bodies(end), ["via-e1", "via-e3"]);
  assert.deepEqual(h.returns.map((r) => [r.fields.exchange, r.fields.routingKey]), [[e1, "j"]]);
  // The delivery names the exchange the message was published to, and its own routing key.
  const first = h.delivered(end)[0];
  assert.deepEqual([first.fields.exchange, first.fields.routingKey], [e1, "k"]);
});

brokerTest("e2e: fan-in from two exchanges; a queue reachable twice gets one copy", async (ctx) => {
  const h = await Harness.open(ctx);
  const a = await h.exchange(uniqueName("in-a"), "fanout");
  const b = await h.exchange(uniqueName("in-b"), "direct");
  const sink = await h.exchange(uniqueName("sink"), "fanout");
  await h.pub.bindExchange(sink, a, "");
  await h.pub.bindExchange(sink, b, "orders");
  const q = await h.queue();
  await h.pub.bindQueue(q, sink, "");
  await h.pub.bindQueue(q, a, ""); // a second path from a
  const onlyA = await h.queue();
  await h.pub.bindQueue(onlyA, a, "");

  h.publish(a, "x", "from-a");
  h.publish(b, "orders", "from-b");
  h.publish(b, "refunds", "b-unrouted");
  await h.settle();
  assert.deepEqual(h.bodies(q), ["from-a", "from-b"]);
  assert.deepEqual(h.bodies(onlyA), ["from-a"]);
  assert.deepEqual(h.returnedKeys(), ["refunds"]);
});

brokerTest("e2e: a loop e1 -> e2 -> e1 delivers each message once and does not hang", async (ctx) => {
  const h = await Harness.open(ctx);
  const e1 = await h.exchange(uniqueName("loop1"), "fanout");
  const e2 = await h.exchange(uniqueName("loop2"), "fanout");
  await h.pub.bindExchange(e2, e1, "");
  await h.pub.bindExchange(e1, e2, "");
  const q1 = await h.queue();
  await h.pub.bindQueue(q1, e1, "");
  const q2 = await h.queue();
  await h.pub.bindQueue(q2, e2, "");
  const both = await h.queue();
  await h.pub.bindQueue(both, e1, "");
  await h.pub.bindQueue(both, e2, "");

  h.publish(e1, "", "to-e1");
  h.publish(e2, "", "to-e2");
  await h.settle();
  for (const q of [q1, q2, both]) assert.deepEqual(h.bodies(q), ["to-e1", "to-e2"]);

  // A loop with no queue at all: the message is returned, the channel keeps working.
  const l1 = await h.exchange(uniqueName("empty-loop1"), "fanout");
  const l2 = await h.exchange(uniqueName("empty-loop2"), "fanout");
  await h.pub.bindExchange(l2, l1, "");
  await h.pub.bindExchange(l1, l2, "");
  h.publish(l1, "round", "round");
  await h.settle();
  assert.deepEqual(h.returns.map((r) => [r.fields.exchange, r.content.toString()]), [[l1, "round"]]);
});

brokerTest(
  "e2e: exchange.unbind stops the flow; unbinding another key or a missing binding is ok",
  async (ctx) => {
    const h = await Harness.open(ctx);
    const src = await h.exchange(uniqueName("src"), "direct");
    const dst = await h.exchange(uniqueName("dst"), "fanout");
    const q = await h.queue();
    await h.pub.bindQueue(q, dst, "");
    await h.pub.bindExchange(dst, src, "k");
    h.publish(src, "k", "bound");
    await h.settle();
    assert.deepEqual(h.bodies(q), ["bound"]);

    await h.pub.unbindExchange(dst, src, "other-key"); // no such binding: ok, nothing changes
    h.publish(src, "k", "still-bound");
    await h.settle();
    assert.deepEqual(h.bodies(q), ["bound", "still-bound"]);

    await h.pub.unbindExchange(dst, src, "k");
    h.publish(src, "k", "unbound");
    await h.settle();
    assert.deepEqual(h.bodies(q), ["bound", "still-bound"]);
    assert.deepEqual(h.returnedKeys(), ["k"]);
    await h.pub.unbindExchange(dst, src, "k"); // again: ok

    // Deleting the destination exchange removes bindings to it.
    await h.pub.bindExchange(dst, src, "k");
    await h.pub.deleteExchange(dst);
    h.publish(src, "k", "dst-deleted");
    await h.settle();
    assert.deepEqual(h.returns.map((r) => r.content.toString()), ["unbound", "dst-deleted"]);
  },
);

// ---------------------------------------------------------------------------------------------------------
// Alternate exchanges

brokerTest(
  "alternate exchange: unroutable messages go to the AE's queue, routed ones do not",
  async (ctx) => {
    const h = await Harness.open(ctx);
    const ae = await h.exchange(uniqueName("ae"), "fanout");
    const main = await h.exchange(uniqueName("main"), "direct", { alternateExchange: ae });
    const known = await h.queue();
    await h.pub.bindQueue(known, main, "known");
    const unrouted = await h.queue();
    await h.pub.bindQueue(unrouted, ae, "");

    h.publish(main, "known", "routed"); // mandatory, routed by main: no return, not in the AE
    h.publish(main, "unknown", "via-ae"); // mandatory, routed by the AE: no return
    h.pub.publish(main, "other", Buffer.from("via-ae-2")); // not mandatory
    await h.settle();
    assert.deepEqual(h.bodies(known), ["routed"]);
    assert.deepEqual(h.bodies(unrouted), ["via-ae", "via-ae-2"]);
    assert.deepEqual(h.returns, []);
    const d = h.delivered(unrouted)[0];
    assert.deepEqual([d.fields.exchange, d.fields.routingKey], [main, "unknown"]);
  },
);

brokerTest(
  "alternate exchange that routes nowhere: mandatory gets basic.return 312 NO_ROUTE",
  async (ctx) => {
    const h = await Harness.open(ctx);
    const ae = await h.exchange(uniqueName("ae-empty"), "direct");
    const main = await h.exchange(uniqueName("main"), "direct", { alternateExchange: ae });
    const q = await h.queue();
    await h.pub.bindQueue(q, ae, "only-this");

    h.publish(main, "lost", "lost-body");
    h.publish(main, "only-this", "ae-routed");
    await h.settle();
    assert.deepEqual(h.bodies(q), ["ae-routed"]);
    assert.equal(h.returns.length, 1);
    assert.deepEqual(h.returns[0].fields, {
      replyCode: 312,
      replyText: "NO_ROUTE",
      exchange: main,
      routingKey: "lost",
    });
    assert.equal(h.returns[0].content.toString(), "lost-body");
  },
);

brokerTest(
  "alternate exchange is looked up by name at publish time; a missing AE is ignored",
  async (ctx) => {
    const h = await Harness.open(ctx);
    const aeName = uniqueName("ae-later");
    const main = await h.exchange(uniqueName("main"), "direct", { alternateExchange: aeName });
    h.publish(main, "k", "before-ae");
    await h.settle();
    assert.deepEqual(h.returns.map((r) => r.content.toString()), ["before-ae"]);

    await h.exchange(aeName, "fanout");
    const q = await h.queue();
    await h.pub.bindQueue(q, aeName, "");
    h.publish(main, "k", "after-ae");
    await h.settle();
    assert.deepEqual(h.bodies(q), ["after-ae"]);
    assert.equal(h.returns.length, 1);
  },
);

brokerTest(
  "alternate exchange: chains are followed, cycles end, and only empty exchanges use theirs",
  async (ctx) => {
    const h = await Harness.open(ctx);
    // main -AE-> ae1 -AE-> ae2 -> q
    const ae2 = await h.exchange(uniqueName("ae2"), "fanout");
    const ae1 = await h.exchange(uniqueName("ae1"), "direct", { alternateExchange: ae2 });
    const main = await h.exchange(uniqueName("main"), "direct", { alternateExchange: ae1 });
    const q = await h.queue();
    await h.pub.bindQueue(q, ae2, "");
    h.publish(main, "k", "chained");

    // c1 -AE-> c2 -AE-> c1, nothing bound: returned, no hang.
    const c1Name = uniqueName("cyc1");
    const c2 = await h.exchange(uniqueName("cyc2"), "direct", { alternateExchange: c1Name });
    const c1 = await h.exchange(c1Name, "direct", { alternateExchange: c2 });
    h.publish(c1, "k", "cycle");

    // An exchange whose only destination is another exchange is not "unroutable": its AE is not used,
    // even though that exchange routes nowhere.
    const inner = await h.exchange(uniqueName("inner"), "direct");
    const aeOuter = await h.exchange(uniqueName("ae-outer"), "fanout");
    const outer = await h.exchange(uniqueName("outer"), "fanout", { alternateExchange: aeOuter });
    await h.pub.bindExchange(inner, outer, "");
    const qOuter = await h.queue();
    await h.pub.bindQueue(qOuter, aeOuter, "");
    h.publish(outer, "k", "outer");
    await h.settle();

    assert.deepEqual(h.bodies(q), ["chained"]);
    assert.deepEqual(h.bodies(qOuter), []);
    assert.deepEqual(h.returns.map((r) => [r.fields.exchange, r.content.toString()]), [[c1, "cycle"], [
      outer,
      "outer",
    ]]);
  },
);

// ---------------------------------------------------------------------------------------------------------
// CC and BCC (sender-selected distribution)

brokerTest(
  "CC: extra routing keys deliver to more queues, once each, and the CC header stays",
  async (ctx) => {
    const h = await Harness.open(ctx);
    const x = await h.exchange(uniqueName("cc"), "direct");
    const qs: Record<string, string> = {};
    for (const k of ["a", "b", "c"]) {
      qs[k] = await h.queue();
      await h.pub.bindQueue(qs[k], x, k);
    }
    h.publish(x, "a", "cc-b", { CC: ["b"] });
    h.publish(x, "a", "cc-dup", { CC: ["a", "b", "b"] });
    h.publish(x, "nowhere", "cc-only", { CC: ["c"] }); // mandatory, routed by CC: no return
    h.publish(x, "nowhere", "cc-none", { CC: ["nobody"] }); // returned
    await h.settle();
    assert.deepEqual(h.bodies(qs.a), ["cc-b", "cc-dup"]);
    assert.deepEqual(h.bodies(qs.b), ["cc-b", "cc-dup"]);
    assert.deepEqual(h.bodies(qs.c), ["cc-only"]);
    assert.deepEqual(h.returns.map((r) => r.content.toString()), ["cc-none"]);

    const onB = h.delivered(qs.b)[0];
    assert.deepEqual(onB.properties.headers, { CC: ["b"] });
    assert.equal(onB.fields.routingKey, "a"); // the delivery carries the publish routing key
    assert.deepEqual(h.delivered(qs.c)[0].properties.headers, { CC: ["c"] });
  },
);

brokerTest("BCC: delivers like CC but the BCC header is removed", async (ctx) => {
  const h = await Harness.open(ctx);
  const x = await h.exchange(uniqueName("bcc"), "direct");
  const qs: Record<string, string> = {};
  for (const k of ["a", "b", "c"]) {
    qs[k] = await h.queue();
    await h.pub.bindQueue(qs[k], x, k);
  }
  h.publish(x, "a", "bcc-c", { BCC: ["c"], keep: "me" });
  h.publish(x, "a", "cc-and-bcc", { CC: ["b"], BCC: ["c"] });
  h.publish(x, "nowhere", "bcc-none", { BCC: ["nobody"], keep: "me" });
  await h.settle();
  assert.deepEqual(h.bodies(qs.a), ["bcc-c", "cc-and-bcc"]);
  assert.deepEqual(h.bodies(qs.b), ["cc-and-bcc"]);
  assert.deepEqual(h.bodies(qs.c), ["bcc-c", "cc-and-bcc"]);
  assert.deepEqual(h.delivered(qs.c)[0].properties.headers, { keep: "me" });
  assert.deepEqual(h.delivered(qs.a)[0].properties.headers, { keep: "me" });
  assert.deepEqual(h.delivered(qs.c)[1].properties.headers, { CC: ["b"] });
  assert.deepEqual(h.delivered(qs.b)[0].properties.headers, { CC: ["b"] });
  // The returned message has lost its BCC header too.
  assert.deepEqual(h.returns.map((r) => [r.content.toString(), r.properties.headers]), [[
    "bcc-none",
    { keep: "me" },
  ]]);
});

brokerTest("CC on the default exchange names queues; fanout ignores CC keys", async (ctx) => {
  const h = await Harness.open(ctx);
  const q1 = await h.queue();
  const q2 = await h.queue();
  const f = await h.exchange(uniqueName("fan"), "fanout");
  await h.pub.bindQueue(q2, f, "");
  h.publish("", q1, "default-cc", { CC: [q2] });
  h.publish(f, "k", "fanout-cc", { CC: ["x", "y"], BCC: ["z"] });
  await h.settle();
  assert.deepEqual(h.bodies(q1), ["default-cc"]);
  assert.deepEqual(h.bodies(q2), ["default-cc", "fanout-cc"]);
  assert.deepEqual(h.returns, []);
});

brokerTest("CC / BCC that is not an array: 406 PRECONDITION_FAILED invalid message", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const setup = await conn.createChannel();
  const { queue } = await setup.assertQueue("", { exclusive: true });
  const publishWith = (headers: Record<string, unknown>) => (c: Channel) => {
    c.publish("", queue, Buffer.from("bad"), { headers });
    return c.checkQueue(queue); // a round trip after the publish: the close comes first
  };
  assert.deepEqual(await expectChannelClose(conn, publishWith({ CC: queue })), {
    code: 406,
    text: 'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}',
  });
  assert.deepEqual(await expectChannelClose(conn, publishWith({ BCC: queue })), {
    code: 406,
    text: 'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"BCC",longstr}',
  });
  assert.deepEqual(await expectChannelClose(conn, publishWith({ CC: { q: queue } })), {
    code: 406,
    text: 'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",table}',
  });
  // Nothing reached the queue.
  assert.equal((await setup.checkQueue(queue)).messageCount, 0);
  await setup.close();
});

// ---------------------------------------------------------------------------------------------------------
// Bindings with arguments

brokerTest(
  "queue.bind with arguments: a binding is key + arguments; unbind needs the same arguments",
  async (ctx) => {
    const h = await Harness.open(ctx);
    const x = await h.exchange(uniqueName("args"), "direct");
    const q = await h.queue();
    await h.pub.bindQueue(q, x, "k", { "x-tag": "one" });
    await h.pub.bindQueue(q, x, "k", { "x-tag": "one" }); // the same binding again: still one
    await h.pub.bindQueue(q, x, "k", { "x-tag": "two", n: 2 });
    h.publish(x, "k", "two-bindings");
    await h.settle();
    assert.deepEqual(h.bodies(q), ["two-bindings"]);

    await h.pub.unbindQueue(q, x, "k"); // no arguments: matches neither binding
    await h.pub.unbindQueue(q, x, "k", { "x-tag": "two" }); // different arguments: no-op
    await h.pub.unbindQueue(q, x, "k", { "x-tag": "one" });
    h.publish(x, "k", "one-binding-left");
    await h.settle();
    assert.deepEqual(h.bodies(q), ["two-bindings", "one-binding-left"]);

    await h.pub.unbindQueue(q, x, "k", { n: 2, "x-tag": "two" }); // key order does not matter
    h.publish(x, "k", "none-left");
    await h.settle();
    assert.deepEqual(h.bodies(q), ["two-bindings", "one-binding-left"]);
    assert.deepEqual(h.returns.map((r) => r.content.toString()), ["none-left"]);
  },
);
