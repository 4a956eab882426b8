// Publisher fairness: a publisher that never pauses cannot outrun the consumers of a queue just
// because its socket always has data. Once a queue with consumers holds more than `flowBacklog`
// ready messages, each connection may publish only `publishBudget` messages into it per turn of
// the event loop, so deliveries (and acks, which are never budgeted) keep up.
//
// The publisher here writes 100,000 pre-encoded publishes in one go (far faster than a consumer
// with prefetch 100 can take them); the test samples the queue's ready count inside the broker.
// Without the budget the backlog reaches most of the 100,000 (measured: ~90,000); with it, it stays
// near flowBacklog. In-process only: it reads the queue depth from the broker object.

import assert from "node:assert/strict";
import { mode, uniqueName, waitFor } from "./_broker.ts";
import { AMQPClient } from "./_deps.ts";
import * as W from "./_wire.ts";

const MESSAGES = 100_000;
Deno.test({
  name: "a flooding publisher is held back while a consumer drains the same queue",
  ignore: mode !== "inprocess",
  async fn() {
    const { createBroker } = await import("../../server/mod.ts");
    const running = await createBroker({ port: 0, host: "127.0.0.1", logLevel: "none" });
    const queueName = uniqueName("flow");
    let consumerConn: Awaited<ReturnType<AMQPClient["connect"]>> | undefined;
    let raw: Deno.TcpConn | undefined;
    try {
      const url = `amqp://guest:guest@127.0.0.1:${running.port}`;
      consumerConn = await new AMQPClient(url).connect();
      const ch = await consumerConn.channel();
      await ch.queueDeclare(queueName, { exclusive: false, autoDelete: false });
      await ch.prefetch(100);
      let received = 0;
      await ch.basicConsume(queueName, { noAck: false }, (msg) => {
        received++;
        msg.ack();
      });
      const queue = running.broker.vhosts.get("/")!.queues.get(queueName)!;

      // Raw publisher: handshake, channel 1, then every publish in one write.
      raw = await Deno.connect({ hostname: "127.0.0.1", port: running.port });
      const hello = W.pipelinedOpen(1);
      const one = W.publishFrames(1, "", queueName, new Uint8Array(16));
      const flood = new Uint8Array(hello.length + one.length * MESSAGES);
      flood.set(hello);
      for (let i = 0; i < MESSAGES; i++) flood.set(one, hello.length + i * one.length);
      const drainReplies = (async () => {
        const buf = new Uint8Array(65536);
        while (await raw!.read(buf).catch(() => null) !== null) { /* connection.start etc. */ }
      })();

      let maxBacklog = 0;
      const sampler = setInterval(() => maxBacklog = Math.max(maxBacklog, queue.messageCount), 2);
      try {
        await raw.write(flood).then(async function writeAll(n): Promise<void> {
          if (n < flood.length) await raw!.write(flood.subarray(n)).then((m) => writeAll(n + m));
        });
        await waitFor(() => received >= MESSAGES, { timeout: 30_000, message: `received ${received}` });
      } finally {
        clearInterval(sampler);
      }
      assert.equal(received, MESSAGES);
      // flowBacklog is 1,000: allow for the messages already in flight when the budget bites.
      assert.ok(
        maxBacklog < 20_000,
        `ready backlog peaked at ${maxBacklog}; the publisher should have been held near 1,000`,
      );
      raw.close();
      raw = undefined;
      await drainReplies;
    } finally {
      raw?.close();
      await consumerConn?.close().catch(() => {});
      await running.close();
    }
  },
});
