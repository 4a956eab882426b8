// Paging: with a data directory, each queue keeps a small window of ready messages in memory and
// the rest on disk; consumers still see every message once, in order, and limits, TTL, purge and
// requeue behave as without paging. An in-process broker with a 100-message window makes the
// boundary easy to cross.

import assert from "node:assert/strict";
import { createBroker, type RunningBroker } from "../../server/mod.ts";
import { isExternal, waitFor } from "./_broker.ts";
import { AMQPClient } from "./_deps.ts";
import type { Queue } from "../../core/mod.ts";

const WINDOW = { messages: 100, bytes: 1 << 20 };

function pagingTest(
  name: string,
  fn: (b: RunningBroker, url: string, queue: (n: string) => Queue) => Promise<void>,
) {
  Deno.test({
    name,
    ignore: isExternal,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "warren-paging-" });
      const b = await createBroker({
        port: 0,
        host: "127.0.0.1",
        logLevel: "none",
        dataDir: dir,
        queueWindow: WINDOW,
        httpPort: 0,
      });
      try {
        await fn(
          b,
          `amqp://guest:guest@127.0.0.1:${b.port}`,
          (n) => b.broker.vhosts.get("/")!.queues.get(n)!,
        );
      } finally {
        await b.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

/** Consumes `n` messages with acks and returns their bodies. */
async function consumeAll(url: string, queue: string, n: number, prefetch = 50): Promise<string[]> {
  const conn = await new AMQPClient(url).connect();
  try {
    const ch = await conn.channel();
    await ch.prefetch(prefetch);
    const bodies: string[] = [];
    const done = Promise.withResolvers<void>();
    await ch.basicConsume(queue, { noAck: false }, (m) => {
      bodies.push(m.bodyToString()!);
      m.ack();
      if (bodies.length === n) done.resolve();
    });
    await done.promise;
    return bodies;
  } finally {
    await conn.close();
  }
}

pagingTest(
  "paging: 5,000 messages through a 100-message window come back once each, in order",
  async (b, url, queue) => {
    const conn = await new AMQPClient(url).connect();
    const ch = await conn.channel();
    await ch.queueDeclare("durable-q", { durable: true });
    await ch.queueDeclare("transient-q", { durable: false });
    await ch.confirmSelect();
    for (let i = 0; i < 5000; i++) {
      // Persistent and transient messages alternate: both kinds are paged, in one order.
      ch.basicPublish("", "durable-q", `m${i}`, { deliveryMode: i % 2 === 0 ? 2 : 1 });
      ch.basicPublish("", "transient-q", `m${i}`);
    }
    await ch.basicPublish("", "transient-q", "sync"); // the last confirm: everything before is in
    for (const name of ["durable-q", "transient-q"]) {
      const q = queue(name);
      assert.ok(q.pagedCount >= 4800, `${name}: ${q.pagedCount} paged`);
    }
    assert.equal(queue("durable-q").messageCount, 5000);
    assert.equal(queue("transient-q").messageCount, 5001);
    // The management API says where they are, with RabbitMQ's field names.
    const res = await fetch(`http://127.0.0.1:${b.httpPort}/api/queues/%2F/durable-q`, {
      headers: { authorization: `Basic ${btoa("guest:guest")}` },
    });
    const info = await res.json();
    assert.equal(info.messages, 5000);
    assert.equal(info.messages_paged_out, queue("durable-q").pagedCount);
    assert.equal(info.messages_ram, 5000 - info.messages_paged_out);
    assert.equal(info.messages_persistent, 2500); // every other message was persistent
    assert.equal(info.message_bytes_paged_out + info.message_bytes_ram, info.message_bytes);
    await conn.close();
    const expected = Array.from({ length: 5000 }, (_, i) => `m${i}`);
    assert.deepEqual(await consumeAll(url, "durable-q", 5000), expected);
    assert.deepEqual(await consumeAll(url, "transient-q", 5001), [...expected, "sync"]);
    assert.equal(queue("durable-q").messageCount, 0);
  },
);

pagingTest("paging: basic.get, requeue and queue depth across the window", async (_b, url, queue) => {
  const conn = await new AMQPClient(url).connect();
  const ch = await conn.channel();
  await ch.queueDeclare("q", { durable: true });
  await ch.confirmSelect();
  for (let i = 0; i < 300; i++) await ch.basicPublish("", "q", `m${i}`, { deliveryMode: 2 });
  assert.equal((await ch.queueDeclare("q", { passive: true })).messageCount, 300);
  // Take 150 without acking (crossing into the paged part), then give them back.
  const held = [];
  for (let i = 0; i < 150; i++) {
    const m = await ch.basicGet("q", { noAck: false });
    assert.equal(m?.bodyToString(), `m${i}`);
    held.push(m!);
  }
  assert.equal((await ch.queueDeclare("q", { passive: true })).messageCount, 150);
  await ch.basicNack(held[held.length - 1].deliveryTag, true, true);
  await waitFor(() => queue("q").messageCount === 300);
  const first = await ch.basicGet("q", { noAck: true });
  assert.equal(first?.bodyToString(), "m0");
  assert.equal(first?.redelivered, true);
  await conn.close();
  const rest = await consumeAll(url, "q", 299);
  assert.deepEqual(rest, Array.from({ length: 299 }, (_, i) => `m${i + 1}`));
});

pagingTest("paging: x-max-length drop-head and purge count paged messages", async (_b, url, queue) => {
  const conn = await new AMQPClient(url).connect();
  const ch = await conn.channel();
  await ch.queueDeclare("limited", { durable: true }, { "x-max-length": 250 });
  await ch.confirmSelect();
  for (let i = 0; i < 400; i++) await ch.basicPublish("", "limited", `m${i}`, { deliveryMode: 2 });
  assert.equal((await ch.queueDeclare("limited", { passive: true })).messageCount, 250);
  const m = await ch.basicGet("limited", { noAck: true });
  assert.equal(m?.bodyToString(), "m150");
  await ch.queueDeclare("p", { durable: true });
  for (let i = 0; i < 300; i++) await ch.basicPublish("", "p", `m${i}`, { deliveryMode: i % 2 + 1 });
  assert.ok(queue("p").pagedCount > 0);
  assert.equal(await ch.queuePurge("p").then((r) => r.messageCount), 300);
  assert.equal(queue("p").messageCount, 0);
  await ch.basicPublish("", "p", "after-purge");
  assert.equal((await ch.basicGet("p", { noAck: true }))?.bodyToString(), "after-purge");
  await conn.close();
});

pagingTest("paging: messages paged with a TTL expire and are dead-lettered", async (_b, url) => {
  const conn = await new AMQPClient(url).connect();
  const ch = await conn.channel();
  await ch.queueDeclare("dlq", { durable: true });
  await ch.queueDeclare("ttl", { durable: true }, {
    "x-message-ttl": 300,
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": "dlq",
  });
  await ch.confirmSelect();
  for (let i = 0; i < 400; i++) await ch.basicPublish("", "ttl", `m${i}`, { deliveryMode: 2 });
  await waitFor(async () => (await ch.queueDeclare("dlq", { passive: true })).messageCount === 400, {
    timeout: 5000,
  });
  assert.equal((await ch.queueDeclare("ttl", { passive: true })).messageCount, 0);
  const first = await ch.basicGet("dlq", { noAck: true });
  assert.equal(first?.bodyToString(), "m0");
  await conn.close();
});

pagingTest("paging: priority queues stay in memory and deliver by priority", async (_b, url, queue) => {
  const conn = await new AMQPClient(url).connect();
  const ch = await conn.channel();
  await ch.queueDeclare("prio", { durable: true }, { "x-max-priority": 5 });
  await ch.confirmSelect();
  for (let i = 0; i < 300; i++) {
    await ch.basicPublish("", "prio", `m${i}`, { deliveryMode: 2, priority: i === 299 ? 5 : 0 });
  }
  assert.equal(queue("prio").pagedCount, 0);
  assert.equal((await ch.basicGet("prio", { noAck: true }))?.bodyToString(), "m299");
  assert.equal((await ch.basicGet("prio", { noAck: true }))?.bodyToString(), "m0");
  await conn.close();
});

pagingTest(
  "paging: a paged message whose expiration comes before earlier messages' is expired in place",
  async (_b, url, queue) => {
    const conn = await new AMQPClient(url).connect();
    const ch = await conn.channel();
    await ch.queueDeclare("dlq-out-of-order", { durable: true });
    await ch.queueDeclare("mixed", { durable: true }, {
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": "dlq-out-of-order",
    });
    await ch.confirmSelect();
    // 300 that live an hour fill the window and start the paged part; then 200 short-lived ones,
    // all paged behind them: they must expire where they are, not when they reach memory.
    for (let i = 0; i < 300; i++) {
      ch.basicPublish("", "mixed", `long-${i}`, { deliveryMode: 2, expiration: "3600000" });
    }
    for (let i = 0; i < 200; i++) {
      ch.basicPublish("", "mixed", `short-${i}`, { deliveryMode: i % 2 + 1, expiration: "300" });
    }
    await ch.basicPublish("", "mixed", "last-long", { deliveryMode: 2, expiration: "3600000" });
    assert.ok(queue("mixed").pagedCount > 200);
    await waitFor(
      async () => (await ch.queueDeclare("dlq-out-of-order", { passive: true })).messageCount === 200,
      {
        timeout: 5000,
      },
    );
    assert.equal((await ch.queueDeclare("mixed", { passive: true })).messageCount, 301);
    const dead = await ch.basicGet("dlq-out-of-order", { noAck: true });
    assert.equal(dead?.bodyToString(), "short-0");
    assert.equal((dead?.properties.headers?.["x-death"] as { reason: string }[])[0].reason, "expired");
    await conn.close();
    const rest = await consumeAll(url, "mixed", 301);
    assert.deepEqual(rest, [...Array.from({ length: 300 }, (_, i) => `long-${i}`), "last-long"]);
  },
);
