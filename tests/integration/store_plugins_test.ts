// Plugin state through the store: persistent messages held by a durable x-delayed-message
// exchange survive a restart and are delivered when due (transient ones do not); a durable
// x-message-deduplication exchange remembers the message ids it saw across a restart. An
// in-process broker stopped and started again on the same data directory.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createBroker, type RunningBroker } from "../../server/mod.ts";
import { isExternal, waitFor } from "./_broker.ts";
import { amqplib } from "./_deps.ts";

async function start(dir: string): Promise<RunningBroker> {
  return await createBroker({ port: 0, host: "127.0.0.1", logLevel: "none", dataDir: dir });
}

function url(b: RunningBroker): string {
  return `amqp://guest:guest@127.0.0.1:${b.port}`;
}

Deno.test({
  name: "store: persistent delayed messages survive a restart and arrive when due; transient ones do not",
  ignore: isExternal,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "warren-delayed-" });
    try {
      let b = await start(dir);
      let conn = await amqplib.connect(url(b));
      let ch = await conn.createConfirmChannel();
      await ch.assertExchange("later", "x-delayed-message", {
        durable: true,
        arguments: { "x-delayed-type": "direct" },
      });
      await ch.assertQueue("due", { durable: true });
      await ch.bindQueue("due", "later", "k");
      const t0 = Date.now();
      ch.publish("later", "k", Buffer.from("persistent-2"), {
        persistent: true,
        headers: { "x-delay": 2000 },
      });
      ch.publish("later", "k", Buffer.from("persistent-1"), {
        persistent: true,
        headers: { "x-delay": 1200 },
      });
      ch.publish("later", "k", Buffer.from("transient"), { headers: { "x-delay": 1200 } });
      await ch.waitForConfirms();
      await conn.close();
      await b.close();

      b = await start(dir);
      try {
        assert.equal(b.broker.vhosts.get("/")!.delayedCount, 2);
        conn = await amqplib.connect(url(b));
        ch = await conn.createConfirmChannel();
        const got: { body: string; at: number }[] = [];
        await ch.consume("due", (m) => {
          got.push({ body: m!.content.toString(), at: Date.now() - t0 });
          ch.ack(m!);
        });
        await waitFor(() => got.length === 2, { timeout: 5000 });
        assert.deepEqual(got.map((g) => g.body), ["persistent-1", "persistent-2"]);
        assert.ok(got[0].at >= 1150, `persistent-1 after ${got[0].at} ms`);
        assert.ok(got[1].at >= 1950, `persistent-2 after ${got[1].at} ms`);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(got.length, 2); // the transient one is gone
        await conn.close();
      } finally {
        await b.close();
      }
      // Released messages are no longer held: a third start finds none.
      b = await start(dir);
      assert.equal(b.broker.vhosts.get("/")!.delayedCount, 0);
      await b.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "store: a durable x-message-deduplication exchange remembers seen ids across a restart",
  ignore: isExternal,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "warren-dedup-" });
    try {
      const publish = async (b: RunningBroker, ids: string[]) => {
        const conn = await amqplib.connect(url(b));
        const ch = await conn.createConfirmChannel();
        await ch.assertExchange("once", "x-message-deduplication", { durable: true });
        await ch.assertQueue("once-q", { durable: true });
        await ch.bindQueue("once-q", "once", "");
        for (const id of ids) {
          ch.publish("once", "", Buffer.from(id), {
            persistent: true,
            headers: { "x-deduplication-header": id },
          });
        }
        await ch.waitForConfirms();
        const depth = (await ch.checkQueue("once-q")).messageCount;
        await conn.close();
        return depth;
      };
      let b = await start(dir);
      assert.equal(await publish(b, ["a", "b", "a"]), 2);
      await b.close();
      b = await start(dir);
      try {
        // "a" and "b" were seen before the restart: only "c" gets in.
        assert.equal(await publish(b, ["a", "c", "b"]), 3);
      } finally {
        await b.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "store: a durable deduplicating queue still refuses values of its persistent messages after a restart",
  ignore: isExternal,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "warren-dedup-q-" });
    try {
      const publish = async (b: RunningBroker, items: [string, boolean][]) => {
        const conn = await amqplib.connect(url(b));
        const ch = await conn.createConfirmChannel();
        await ch.assertQueue("unique", { durable: true, arguments: { "x-message-deduplication": true } });
        for (const [id, persistent] of items) {
          ch.sendToQueue("unique", Buffer.from(id), {
            persistent,
            headers: { "x-deduplication-header": id },
          });
        }
        await ch.waitForConfirms();
        const depth = (await ch.checkQueue("unique")).messageCount;
        await conn.close();
        return depth;
      };
      let b = await start(dir);
      assert.equal(await publish(b, [["p", true], ["t", false], ["p", true]]), 2);
      await b.close();
      b = await start(dir);
      try {
        // "p" came back with its message: still a duplicate. "t" (transient) is gone, so free.
        assert.equal(await publish(b, [["p", true], ["t", true]]), 2);
        const conn = await amqplib.connect(url(b));
        const ch = await conn.createChannel();
        const bodies: string[] = [];
        for (
          let m = await ch.get("unique", { noAck: true });
          m;
          m = await ch.get("unique", { noAck: true })
        ) {
          bodies.push(m.content.toString());
        }
        assert.deepEqual(bodies, ["p", "t"]);
        await conn.close();
      } finally {
        await b.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
