// Paging keeps memory bounded: a broker child process takes 150,000 persistent 4 KiB messages
// (600 MiB of bodies) into one durable queue nobody consumes, and its resident memory, read from
// /proc, stays far below the data it holds; then the queue is consumed in full, in order.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { waitFor } from "./_broker.ts";
import { amqplib } from "./_deps.ts";
import { restartIgnored, spawnWarren, tempDataDir } from "./_process.ts";

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) / 1024 : NaN;
}

Deno.test({
  name: "paging: 600 MiB of messages in one queue, broker RSS stays under 300 MiB, all consumed in order",
  ignore: restartIgnored !== undefined || Deno.build.os !== "linux",
  async fn() {
    const data = await tempDataDir("warren-paging-mem-");
    const broker = await spawnWarren(data.dir, { logLevel: "warn" });
    try {
      const conn = await amqplib.connect(broker.url);
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue("deep", { durable: true });
      const total = 150_000;
      const body = Buffer.alloc(4096, 0x61);
      let peak = 0;
      for (let i = 0; i < total; i++) {
        body.writeUInt32BE(i, 0);
        if (!ch.sendToQueue("deep", body, { persistent: true })) {
          await new Promise((r) => ch.once("drain", r));
        }
        if (i % 10_000 === 0) peak = Math.max(peak, rssMiB(broker.pid));
      }
      await ch.waitForConfirms();
      peak = Math.max(peak, rssMiB(broker.pid));
      assert.equal((await ch.checkQueue("deep")).messageCount, total);
      assert.ok(
        peak < 300,
        `broker RSS peaked at ${peak.toFixed(0)} MiB holding ${total * 4 / 1024} MiB of bodies`,
      );

      const cc = await conn.createChannel();
      await cc.prefetch(500);
      let next = 0;
      let outOfOrder = 0;
      await cc.consume("deep", (m) => {
        if (m!.content.readUInt32BE(0) !== next) outOfOrder++;
        next++;
        if (next % 100 === 0 || next === total) cc.ack(m!, true);
      });
      await waitFor(() => next === total, { timeout: 60_000, message: `consumed ${next} of ${total}` });
      assert.equal(outOfOrder, 0);
      await conn.close();
    } finally {
      await broker.stop();
      await data.cleanup();
    }
  },
});
