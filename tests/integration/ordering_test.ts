// 10,000 messages published and consumed in order with manual acks, with each client library.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, cloudConnect } from "./_clients.ts";
import type { ConsumeMessage } from "./_deps.ts";

const COUNT = 10_000;

brokerTest("amqplib: 10,000 messages consumed in order with manual acks, queue ends empty", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const q = uniqueName("order-amqplib");
  const ok = await ch.assertQueue(q, { durable: false, autoDelete: false });
  assert.equal(ok.queue, q);
  assert.equal(ok.messageCount, 0);
  assert.equal(ok.consumerCount, 0);

  for (let i = 0; i < COUNT; i++) {
    const more = ch.sendToQueue(q, Buffer.from(`msg-${i}`), {
      messageId: String(i),
      contentType: "text/plain",
    });
    if (!more) await new Promise((r) => ch.once("drain", r));
  }

  const received: string[] = [];
  const problems: string[] = [];
  const { consumerTag } = await ch.consume(q, (m: ConsumeMessage | null) => {
    if (m === null) {
      problems.push("consumer cancelled by server");
      return;
    }
    const i = received.length;
    const body = m.content.toString();
    if (body !== `msg-${i}`) problems.push(`#${i}: body ${body}`);
    if (m.properties.messageId !== String(i)) problems.push(`#${i}: messageId ${m.properties.messageId}`);
    if (m.properties.contentType !== "text/plain") {
      problems.push(`#${i}: contentType ${m.properties.contentType}`);
    }
    if (m.fields.deliveryTag !== i + 1) problems.push(`#${i}: deliveryTag ${m.fields.deliveryTag}`);
    if (m.fields.redelivered !== false) problems.push(`#${i}: redelivered`);
    if (m.fields.routingKey !== q || m.fields.exchange !== "") {
      problems.push(`#${i}: fields ${JSON.stringify(m.fields)}`);
    }
    received.push(body);
    ch.ack(m);
  }, { noAck: false });

  await waitFor(() => received.length >= COUNT || problems.length > 0, { timeout: 20_000 });
  assert.deepEqual(problems.slice(0, 10), []);
  assert.equal(received.length, COUNT);
  await ch.cancel(consumerTag);
  // Closing the channel would requeue anything not acked: the queue must still be empty afterwards.
  await ch.close();

  const ch2 = await conn.createChannel();
  const after = await ch2.checkQueue(q);
  assert.equal(after.messageCount, 0);
  assert.equal(after.consumerCount, 0);
  assert.equal(await ch2.get(q), false);
  assert.deepEqual(await ch2.deleteQueue(q), { messageCount: 0 });
  await ch2.close();
});

brokerTest(
  "@cloudamqp/amqp-client: 10,000 messages consumed in order with manual acks, queue ends empty",
  async (ctx) => {
    const client = await cloudConnect(ctx);
    const ch = await client.channel();
    const q = uniqueName("order-cloud");
    const ok = await ch.queueDeclare(q, { durable: false, autoDelete: false });
    assert.deepEqual(ok, { name: q, messageCount: 0, consumerCount: 0 });

    for (let i = 0; i < COUNT; i++) {
      await ch.basicPublish("", q, `msg-${i}`, { messageId: String(i) });
    }

    const received: string[] = [];
    const problems: string[] = [];
    const consumer = await ch.basicConsume(q, { noAck: false }, async (m) => {
      const i = received.length;
      const body = m.bodyToString();
      if (body !== `msg-${i}`) problems.push(`#${i}: body ${body}`);
      if (m.properties.messageId !== String(i)) problems.push(`#${i}: messageId ${m.properties.messageId}`);
      if (m.deliveryTag !== i + 1) problems.push(`#${i}: deliveryTag ${m.deliveryTag}`);
      if (m.redelivered !== false) problems.push(`#${i}: redelivered`);
      received.push(body ?? "");
      await m.ack();
    });

    await waitFor(() => received.length >= COUNT || problems.length > 0, { timeout: 20_000 });
    assert.deepEqual(problems.slice(0, 10), []);
    assert.equal(received.length, COUNT);
    await consumer.cancel();
    await ch.close();

    const ch2 = await client.channel();
    const after = await ch2.queueDeclare(q, { passive: true });
    assert.deepEqual(after, { name: q, messageCount: 0, consumerCount: 0 });
    assert.equal(await ch2.basicGet(q), null);
    assert.deepEqual(await ch2.queueDelete(q), { messageCount: 0 });
    await ch2.close();
  },
);
