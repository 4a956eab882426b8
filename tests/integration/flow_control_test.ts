// Flow control: over its memory high watermark the broker blocks publishing connections
// (connection.blocked with RabbitMQ's reason to clients that announced the capability, and no
// more reading from their sockets) while consumers go on; once consumers drain the queues and
// memory falls back, publishers get connection.unblocked and carry on. Connections that never
// published are not blocked. A broker child process with a low watermark (64 MiB) and queues
// whose in-memory windows hold more than that between them. The memory measure is the engine's
// (heap + external) after a forced collection, so draining brings it down deterministically.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { waitFor } from "./_broker.ts";
import { amqplib } from "./_deps.ts";
import { restartIgnored, spawnWarren, tempDataDir } from "./_process.ts";

Deno.test({
  name: "flow control: memory alarm blocks publishers (connection.blocked), draining unblocks them",
  ignore: restartIgnored !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const data = await tempDataDir("warren-flow-");
    const broker = await spawnWarren(data.dir, { args: ["--memory-high-watermark", "64MiB"] });
    try {
      const publisher = await amqplib.connect(broker.url);
      const events: string[] = [];
      publisher.on("blocked", (reason: string) => events.push(`blocked: ${reason}`));
      publisher.on("unblocked", () => events.push("unblocked"));
      const consumerConn = await amqplib.connect(broker.url);
      const bystander = await amqplib.connect(broker.url); // never publishes
      const bystanderEvents: string[] = [];
      bystander.on("blocked", () => bystanderEvents.push("blocked"));

      const ch = await publisher.createChannel();
      const queues = ["fc-1", "fc-2", "fc-3", "fc-4", "fc-5", "fc-6"];
      for (const q of queues) await ch.assertQueue(q, { durable: false });
      // 6 queues x 16 MiB windows in memory: well over 64 MiB. 256 KiB bodies, paced so that the
      // monitor (which measures a few times a second) sees the alarm before everything is in.
      const body = Buffer.alloc(256 * 1024, 7);
      let sent = 0;
      for (let i = 0; events.length === 0 && i < 90; i++) {
        for (const q of queues) {
          ch.sendToQueue(q, body);
          sent++;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      await waitFor(() => events.length > 0, { timeout: 15_000, message: "no connection.blocked" });
      assert.deepEqual(events, ["blocked: low on memory"]);
      assert.match(broker.stderr(), /resource alarm raised: publishers blocked resource=memory/);

      // Blocked: the socket is not read, so what is published now does not reach the queues.
      const depth = async () => {
        let n = 0;
        const c = await consumerConn.createChannel();
        for (const q of queues) n += (await c.checkQueue(q)).messageCount;
        await c.close();
        return n;
      };
      await new Promise((r) => setTimeout(r, 300)); // what was already read gets in
      const before = await depth();
      for (let i = 0; i < 10; i++) for (const q of queues) ch.sendToQueue(q, body);
      const total = sent + 60;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await depth(), before, "queues grew while the publisher was blocked");
      assert.ok(before < total, `all ${before} messages got in despite the alarm`);

      // The consumer (a connection that never published) is not blocked: it drains everything.
      const cc = await consumerConn.createChannel();
      await cc.prefetch(20);
      let consumed = 0;
      for (const q of queues) {
        await cc.consume(q, (m) => {
          consumed++;
          cc.ack(m!);
        });
      }
      await waitFor(() => events.includes("unblocked"), {
        timeout: 20_000,
        message: "no connection.unblocked",
      });
      // Everything published while blocked arrives once the socket is read again.
      await waitFor(() => consumed === total, {
        timeout: 20_000,
        message: `consumed ${consumed} of ${total}`,
      });
      assert.deepEqual(events, ["blocked: low on memory", "unblocked"]);
      assert.deepEqual(bystanderEvents, []);
      await bystander.close();
      await consumerConn.close();
      await publisher.close();
    } finally {
      await broker.stop();
      await data.cleanup();
    }
  },
});

Deno.test({
  name:
    "flow control: disk alarm (free space under --disk-free-limit) blocks a connection at its first publish",
  ignore: restartIgnored !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const data = await tempDataDir("warren-flow-");
    // No disk has a petabyte free: the disk alarm is raised from the start.
    const broker = await spawnWarren(data.dir, { args: ["--disk-free-limit", "1000TB"] });
    try {
      const conn = await amqplib.connect(broker.url);
      const events: string[] = [];
      conn.on("blocked", (reason: string) => events.push(`blocked: ${reason}`));
      const ch = await conn.createChannel();
      // Declaring and consuming work: only publishing connections are blocked ("blocking" state).
      await ch.assertQueue("disk-q", { durable: true });
      assert.deepEqual(events, []);
      ch.sendToQueue("disk-q", Buffer.from("first"), { persistent: true });
      await waitFor(() => events.length > 0, { timeout: 5000, message: "no connection.blocked" });
      assert.deepEqual(events, ["blocked: low on disk"]);
      // The publish that triggered the block was read and routed; what follows is not read.
      ch.sendToQueue("disk-q", Buffer.from("second"), { persistent: true });
      const other = await amqplib.connect(broker.url);
      const oc = await other.createChannel();
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await oc.checkQueue("disk-q")).messageCount, 1);
      await other.close();
      // A blocked connection's socket is not read, so a graceful close would wait for ever (as
      // with RabbitMQ): the broker's shutdown closes it instead.
      conn.on("error", () => {});
      conn.on("close", () => {});
    } finally {
      await broker.stop();
      await data.cleanup();
    }
  },
});
