// basic.get: get-ok with body and message count; get-empty on an empty queue.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, cloudConnect } from "./_clients.ts";

brokerTest("amqplib: basic.get returns get-ok with body and remaining count, then get-empty", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const q = uniqueName("get");
  await ch.assertQueue(q, { autoDelete: false });

  assert.equal(await ch.get(q), false, "get on a new queue must be get-empty");

  ch.sendToQueue(q, Buffer.from("first"), { headers: { n: 1 }, priority: 3, correlationId: "c-1" });
  ch.sendToQueue(q, Buffer.from("second"));
  ch.sendToQueue(q, Buffer.from(""));
  await waitFor(async () => (await ch.checkQueue(q)).messageCount === 3);

  const m1 = await ch.get(q, { noAck: false });
  assert.ok(m1);
  assert.equal(m1.content.toString(), "first");
  assert.deepEqual(m1.fields, {
    deliveryTag: 1,
    redelivered: false,
    exchange: "",
    routingKey: q,
    messageCount: 2,
  });
  assert.deepEqual(m1.properties.headers, { n: 1 });
  assert.equal(m1.properties.priority, 3);
  assert.equal(m1.properties.correlationId, "c-1");
  ch.ack(m1);

  const m2 = await ch.get(q, { noAck: true });
  assert.ok(m2);
  assert.equal(m2.content.toString(), "second");
  assert.deepEqual(m2.fields, {
    deliveryTag: 2,
    redelivered: false,
    exchange: "",
    routingKey: q,
    messageCount: 1,
  });

  const m3 = await ch.get(q, { noAck: true });
  assert.ok(m3);
  assert.equal(m3.content.length, 0, "empty body");
  assert.equal(m3.fields.messageCount, 0);

  assert.equal(await ch.get(q), false, "drained queue must be get-empty");
  assert.deepEqual(await ch.deleteQueue(q), { messageCount: 0 });
  await ch.close();
});

brokerTest("@cloudamqp/amqp-client: basicGet returns the message then null", async (ctx) => {
  const client = await cloudConnect(ctx);
  const ch = await client.channel();
  const q = uniqueName("get-cloud");
  await ch.queueDeclare(q, { autoDelete: false });
  assert.equal(await ch.basicGet(q), null);
  await ch.basicPublish("", q, "hello", { contentType: "text/plain" });
  await ch.basicPublish("", q, "world");
  const m = await ch.basicGet(q, { noAck: true });
  assert.ok(m);
  assert.equal(m.bodyToString(), "hello");
  assert.equal(m.properties.contentType, "text/plain");
  assert.equal(m.messageCount, 1);
  assert.equal(m.exchange, "");
  assert.equal(m.routingKey, q);
  const m2 = await ch.basicGet(q, { noAck: true });
  assert.equal(m2?.bodyToString(), "world");
  assert.equal(m2?.messageCount, 0);
  assert.equal(await ch.basicGet(q), null);
  await ch.queueDelete(q);
  await ch.close();
});
