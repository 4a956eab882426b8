// Consumer priorities (x-priority), single active consumer (x-single-active-consumer), and
// basic.recover requeue=false (Warren only: RabbitMQ answers 540 NOT_IMPLEMENTED).

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, isExternal, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect } from "./_clients.ts";
import type { ConsumeMessage } from "./_deps.ts";
import * as W from "./_wire.ts";

brokerTest(
  "x-priority: the higher-priority consumer is served first, the lower one only when it is full",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const setup = await conn.createConfirmChannel();
    const q = uniqueName("prio");
    await setup.assertQueue(q, { exclusive: true });
    const got: Record<string, ConsumeMessage[]> = { high: [], low: [] };
    const channels: Record<string, Awaited<ReturnType<typeof conn.createChannel>>> = {};
    for (const [name, priority] of [["low", 0], ["high", 5]] as const) {
      const ch = await conn.createChannel();
      await ch.prefetch(2);
      await ch.consume(q, (m) => m && got[name].push(m), { arguments: { "x-priority": priority } });
      channels[name] = ch;
    }
    for (let i = 0; i < 6; i++) setup.sendToQueue(q, Buffer.from(String(i)));
    await setup.waitForConfirms();
    await waitFor(() => got.high.length === 2 && got.low.length === 2);
    assert.deepEqual(got.high.map((m) => m.content.toString()), ["0", "1"]);
    assert.deepEqual(got.low.map((m) => m.content.toString()), ["2", "3"]);
    // Credit back on the high-priority consumer: it gets the next message, not the low one.
    channels.high.ack(got.high[0]);
    await waitFor(() => got.high.length === 3);
    assert.equal(got.high[2].content.toString(), "4");
    assert.equal(got.low.length, 2);
  },
);

brokerTest("x-single-active-consumer: only the first consumer receives until it cancels", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createConfirmChannel();
  const q = uniqueName("sac");
  await ch.assertQueue(q, { exclusive: true, arguments: { "x-single-active-consumer": true } });
  const got: Record<string, string[]> = { a: [], b: [] };
  const a = await ch.consume(q, (m) => m && got.a.push(m.content.toString()), { noAck: true });
  await ch.consume(q, (m) => m && got.b.push(m.content.toString()), { noAck: true });
  for (let i = 0; i < 4; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  await ch.waitForConfirms();
  await waitFor(() => got.a.length === 4);
  assert.deepEqual(got.b, []);
  await ch.cancel(a.consumerTag);
  for (let i = 4; i < 6; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  await ch.waitForConfirms();
  await waitFor(() => got.b.length === 2);
  assert.deepEqual(got.b, ["m4", "m5"]);
  assert.equal(got.a.length, 4);
});

if (!isExternal) {
  brokerTest("basic.recover requeue=false redelivers unacked messages to the same consumer", async (ctx) => {
    const w = await W.Wire.connect(ctx.broker.host, ctx.broker.port);
    ctx.defer(() => w.close());
    await W.handshake(w);
    await W.openChannel(w, 1);
    const q = uniqueName("recover");
    await w.send(W.M.queueDeclare(1, q, { exclusive: true }));
    await w.expectMethod(50, 11);
    await w.send(W.M.basicConsume(1, q, "me"));
    await w.expectMethod(60, 21);
    await w.send(W.publishFrames(1, "", q, "x"));
    // A delivery: basic.deliver, then its content header and one body frame ("x").
    const delivery = async () => {
      const m = await w.expectMethod(60, 60, 3000);
      assert.equal((await w.readNonHeartbeat()).type, W.FRAME_HEADER);
      assert.equal(W.text((await w.readNonHeartbeat()).payload), "x");
      return m;
    };
    const first = await delivery();
    await w.send(W.M.basicRecover(1, false));
    const again = await delivery();
    await w.expectMethod(60, 111);
    const fields = (f: W.MethodFrame) => ({
      tag: f.args.shortstr(),
      deliveryTag: Number(f.args.longlong()),
      redelivered: f.args.bit(),
    });
    assert.deepEqual(fields(first), { tag: "me", deliveryTag: 1, redelivered: false });
    assert.deepEqual(fields(again), { tag: "me", deliveryTag: 2, redelivered: true });
  });
}
