// Unacked messages are requeued, in order, with redelivered=true when the consuming channel closes.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect } from "./_clients.ts";
import type { ConsumeMessage } from "./_deps.ts";

brokerTest(
  "unacked messages are redelivered with redelivered=true after the consuming channel closes",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const pub = await conn.createChannel();
    const q = uniqueName("redeliver");
    await pub.assertQueue(q, { autoDelete: false });
    for (let i = 0; i < 5; i++) pub.sendToQueue(q, Buffer.from(`m${i}`));

    const first = await conn.createChannel();
    const got1: ConsumeMessage[] = [];
    await first.consume(q, (m) => {
      if (m) got1.push(m);
    }, { noAck: false });
    await waitFor(() => got1.length === 5);
    assert.ok(got1.every((m) => m.fields.redelivered === false));
    // Ack m1 and m3 only; m0, m2, m4 stay unacked.
    first.ack(got1[1]);
    first.ack(got1[3]);
    await first.close();

    await waitFor(async () => (await pub.checkQueue(q)).messageCount === 3);

    const second = await conn.createChannel();
    const got2: ConsumeMessage[] = [];
    await second.consume(q, (m) => {
      if (m) got2.push(m);
    }, { noAck: false });
    await waitFor(() => got2.length === 3);
    assert.deepEqual(got2.map((m) => m.content.toString()), ["m0", "m2", "m4"]);
    assert.deepEqual(got2.map((m) => m.fields.redelivered), [true, true, true]);
    assert.deepEqual(got2.map((m) => m.fields.deliveryTag), [1, 2, 3], "delivery tags are per channel");
    for (const m of got2) second.ack(m);
    await second.close();

    await waitFor(async () => (await pub.checkQueue(q)).messageCount === 0);
    assert.deepEqual(await pub.deleteQueue(q), { messageCount: 0 });
    await pub.close();
  },
);

brokerTest("unacked messages are redelivered after the consuming connection closes", async (ctx) => {
  const setup = await amqplibConnect(ctx);
  const ch = await setup.createChannel();
  const q = uniqueName("redeliver-conn");
  await ch.assertQueue(q, { autoDelete: false });
  ch.sendToQueue(q, Buffer.from("only"));

  const consumerConn = await amqplibConnect(ctx);
  const cch = await consumerConn.createChannel();
  const got: ConsumeMessage[] = [];
  await cch.consume(q, (m) => {
    if (m) got.push(m);
  });
  await waitFor(() => got.length === 1);
  assert.equal(got[0].fields.redelivered, false);
  await consumerConn.close();

  await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
  const m = await ch.get(q, { noAck: true });
  assert.ok(m);
  assert.equal(m.content.toString(), "only");
  assert.equal(m.fields.redelivered, true);
  assert.equal(m.fields.messageCount, 0);
  await ch.deleteQueue(q);
  await ch.close();
});
