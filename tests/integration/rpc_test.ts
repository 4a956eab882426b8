// RPC: RabbitMQ tutorial 6 (a server-named exclusive reply queue and correlation ids) and direct
// reply-to (`amq.rabbitmq.reply-to`: replies go straight to the requesting channel, no queue).
// Checked against RabbitMQ 3.10 (WARREN_TEST_URL).

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, expectChannelClose } from "./_clients.ts";
import type { ConsumeMessage } from "./_deps.ts";

/** An RPC server answering n → fib(n) on `queue`, replying to reply_to with the correlation id. */
async function startFibServer(ctx: Parameters<typeof amqplibConnect>[0], queue: string) {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  await ch.assertQueue(queue, { exclusive: true });
  await ch.prefetch(1);
  const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));
  await ch.consume(queue, (m) => {
    if (!m) return;
    ch.sendToQueue(m.properties.replyTo, Buffer.from(String(fib(Number(m.content.toString())))), {
      correlationId: m.properties.correlationId,
    });
    ch.ack(m);
  });
  return ch;
}

brokerTest("tutorial 6: RPC with an exclusive reply queue and correlation ids", async (ctx) => {
  const rpcQueue = uniqueName("rpc");
  await startFibServer(ctx, rpcQueue);
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const { queue: replyQueue } = await ch.assertQueue("", { exclusive: true, autoDelete: true });
  const answers = new Map<string, string>();
  await ch.consume(replyQueue, (m) => m && answers.set(m.properties.correlationId, m.content.toString()), {
    noAck: true,
  });
  for (const n of [10, 20, 30]) {
    ch.sendToQueue(rpcQueue, Buffer.from(String(n)), { correlationId: `c${n}`, replyTo: replyQueue });
  }
  await waitFor(() => answers.size === 3);
  assert.deepEqual(Object.fromEntries(answers), { c10: "55", c20: "6765", c30: "832040" });
});

brokerTest("direct reply-to: replies reach the requesting channel without a queue", async (ctx) => {
  const rpcQueue = uniqueName("rpc-direct");
  await startFibServer(ctx, rpcQueue);
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const replies: ConsumeMessage[] = [];
  await ch.consume("amq.rabbitmq.reply-to", (m) => m && replies.push(m), { noAck: true });
  ch.sendToQueue(rpcQueue, Buffer.from("12"), { correlationId: "x", replyTo: "amq.rabbitmq.reply-to" });
  await waitFor(() => replies.length === 1);
  const r = replies[0];
  assert.equal(r.content.toString(), "144");
  assert.equal(r.properties.correlationId, "x");
  assert.equal(r.fields.exchange, "");
  assert.match(r.fields.routingKey, /^amq\.rabbitmq\.reply-to\..+/);
  assert.equal(r.fields.redelivered, false);
});

brokerTest(
  "direct reply-to: RabbitMQ's errors for an acking reply consumer and a missing one",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    assert.deepEqual(
      await expectChannelClose(conn, (ch) => ch.consume("amq.rabbitmq.reply-to", () => {}, { noAck: false })),
      { code: 406, text: "PRECONDITION_FAILED - reply consumer cannot acknowledge" },
    );
    const ch = await conn.createChannel();
    const closed = new Promise<unknown>((resolve) => ch.on("error", resolve));
    ch.sendToQueue(uniqueName("nobody"), Buffer.from("x"), { replyTo: "amq.rabbitmq.reply-to" });
    const err = await closed as { code?: number; message?: string };
    assert.equal(err.code, 406);
    assert.match(String(err.message), /PRECONDITION_FAILED - fast reply consumer does not exist/);
  },
);
