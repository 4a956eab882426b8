// Queue lifecycle: server-named queues, purge and delete counts, conditional delete errors.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, expectChannelClose } from "./_clients.ts";

brokerTest("queue.declare with an empty name gets a server-named amq.gen- queue", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const a = await ch.assertQueue("", { exclusive: true });
  const b = await ch.assertQueue("", { exclusive: true });
  assert.match(a.queue, /^amq\.gen-[A-Za-z0-9_-]{6,}$/);
  assert.match(b.queue, /^amq\.gen-[A-Za-z0-9_-]{6,}$/);
  assert.notEqual(a.queue, b.queue);
  assert.equal(a.messageCount, 0);
  assert.equal(a.consumerCount, 0);

  // It is a real queue reachable through the default exchange.
  ch.sendToQueue(a.queue, Buffer.from("to-generated"));
  await waitFor(async () => (await ch.checkQueue(a.queue)).messageCount === 1);
  const m = await ch.get(a.queue, { noAck: true });
  assert.ok(m);
  assert.equal(m.content.toString(), "to-generated");
  await ch.close();
});

brokerTest("queue.declare-ok reports message and consumer counts", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const q = uniqueName("counts");
  await ch.assertQueue(q, { autoDelete: false });
  for (let i = 0; i < 4; i++) ch.sendToQueue(q, Buffer.from(String(i)));
  await waitFor(async () => (await ch.checkQueue(q)).messageCount === 4);
  assert.deepEqual(await ch.assertQueue(q, { autoDelete: false }), {
    queue: q,
    messageCount: 4,
    consumerCount: 0,
  });
  const cch = await conn.createChannel();
  await cch.prefetch(1);
  await cch.consume(q, () => {}, { noAck: false });
  // One message is out with the consumer (unacked), so 3 are ready.
  await waitFor(async () => (await ch.checkQueue(q)).messageCount === 3);
  assert.deepEqual(await ch.checkQueue(q), { queue: q, messageCount: 3, consumerCount: 1 });
  await cch.close();
  assert.deepEqual(await ch.deleteQueue(q), { messageCount: 4 });
  await ch.close();
});

brokerTest("queue.purge returns the number of purged messages", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const q = uniqueName("purge");
  await ch.assertQueue(q, { autoDelete: false });
  for (let i = 0; i < 7; i++) ch.sendToQueue(q, Buffer.from(String(i)));
  await waitFor(async () => (await ch.checkQueue(q)).messageCount === 7);
  assert.deepEqual(await ch.purgeQueue(q), { messageCount: 7 });
  assert.equal((await ch.checkQueue(q)).messageCount, 0);
  assert.deepEqual(await ch.purgeQueue(q), { messageCount: 0 });
  assert.equal(await ch.get(q), false);
  await ch.deleteQueue(q);
  await ch.close();
});

brokerTest("queue.delete returns the number of deleted messages and the queue is gone", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const q = uniqueName("delete");
  await ch.assertQueue(q, { autoDelete: false });
  for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(String(i)));
  await waitFor(async () => (await ch.checkQueue(q)).messageCount === 3);
  assert.deepEqual(await ch.deleteQueue(q), { messageCount: 3 });
  assert.deepEqual(await expectChannelClose(conn, (c) => c.checkQueue(q)), {
    code: 404,
    text: `NOT_FOUND - no queue '${q}' in vhost '/'`,
  });
  // Deleting a queue that does not exist is not an error (RabbitMQ 3.x): delete-ok with 0.
  assert.deepEqual(await ch.deleteQueue(q), { messageCount: 0 });
  await ch.close();
});

brokerTest("queue.delete if-empty on a non-empty queue: 406 PRECONDITION_FAILED not empty", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const q = uniqueName("if-empty");
  await ch.assertQueue(q, { autoDelete: false });
  ch.sendToQueue(q, Buffer.from("x"));
  await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
  assert.deepEqual(await expectChannelClose(conn, (c) => c.deleteQueue(q, { ifEmpty: true })), {
    code: 406,
    text: `PRECONDITION_FAILED - queue '${q}' in vhost '/' not empty`,
  });
  // The queue and its message are still there; once empty, if-empty delete succeeds.
  assert.equal((await ch.checkQueue(q)).messageCount, 1);
  await ch.purgeQueue(q);
  assert.deepEqual(await ch.deleteQueue(q, { ifEmpty: true }), { messageCount: 0 });
  await ch.close();
});

brokerTest(
  "queue.delete if-unused on a queue with a consumer: 406 PRECONDITION_FAILED in use",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createChannel();
    const q = uniqueName("if-unused");
    await ch.assertQueue(q, { autoDelete: false });
    const { consumerTag } = await ch.consume(q, () => {}, { noAck: true });
    assert.deepEqual(await expectChannelClose(conn, (c) => c.deleteQueue(q, { ifUnused: true })), {
      code: 406,
      text: `PRECONDITION_FAILED - queue '${q}' in vhost '/' in use`,
    });
    assert.equal((await ch.checkQueue(q)).consumerCount, 1);
    await ch.cancel(consumerTag);
    assert.deepEqual(await ch.deleteQueue(q, { ifUnused: true }), { messageCount: 0 });
    await ch.close();
  },
);
