// Channel and message errors, with reply codes and texts exactly as RabbitMQ 3.10 sends them.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, expectChannelClose, watchedChannel } from "./_clients.ts";
import type { Message } from "./_deps.ts";

brokerTest("mandatory publish with no route is returned: 312 NO_ROUTE", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const returned: Message[] = [];
  ch.on("return", (m: Message) => returned.push(m));
  const rk = uniqueName("no-such-queue");
  ch.publish("", rk, Buffer.from("lost"), { mandatory: true, messageId: "m-1" });
  await waitFor(() => returned.length === 1);
  const m = returned[0];
  assert.deepEqual(m.fields, { replyCode: 312, replyText: "NO_ROUTE", exchange: "", routingKey: rk });
  assert.equal(m.content.toString(), "lost");
  assert.equal(m.properties.messageId, "m-1");

  // Without mandatory the message is dropped silently and the channel stays open.
  ch.publish("", rk, Buffer.from("dropped"));
  const q = uniqueName("still-open");
  assert.equal((await ch.assertQueue(q, { exclusive: true })).queue, q);
  assert.equal(returned.length, 1);
  await ch.close();
});

brokerTest("passive declare of a missing queue: 404 NOT_FOUND", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const q = uniqueName("missing");
  const r = await expectChannelClose(conn, (ch) => ch.checkQueue(q));
  assert.deepEqual(r, { code: 404, text: `NOT_FOUND - no queue '${q}' in vhost '/'` });

  // Only the channel was closed: the connection still opens channels and declares queues.
  const ch = await conn.createChannel();
  const ok = uniqueName("after-404");
  assert.equal((await ch.assertQueue(ok, { exclusive: true })).queue, ok);
  await ch.close();
});

brokerTest("consume, get and purge on a missing queue: 404 NOT_FOUND", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const q = uniqueName("missing");
  const want = { code: 404, text: `NOT_FOUND - no queue '${q}' in vhost '/'` };
  assert.deepEqual(await expectChannelClose(conn, (ch) => ch.consume(q, () => {})), want);
  assert.deepEqual(await expectChannelClose(conn, (ch) => ch.get(q)), want);
  assert.deepEqual(await expectChannelClose(conn, (ch) => ch.purgeQueue(q)), want);
});

const LOCKED = (q: string) =>
  `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'. ` +
  "It could be originally declared on another connection or the exclusive property value does not match " +
  "that of the original declaration.";

brokerTest("exclusive queue used from another connection: 405 RESOURCE_LOCKED", async (ctx) => {
  const owner = await amqplibConnect(ctx);
  const other = await amqplibConnect(ctx);
  const och = await owner.createChannel();
  const q = uniqueName("exclusive");
  await och.assertQueue(q, { exclusive: true });

  const want = { code: 405, text: LOCKED(q) };
  assert.deepEqual(await expectChannelClose(other, (ch) => ch.checkQueue(q)), want, "passive declare");
  assert.deepEqual(
    await expectChannelClose(other, (ch) => ch.assertQueue(q, { exclusive: true })),
    want,
    "declare",
  );
  assert.deepEqual(await expectChannelClose(other, (ch) => ch.consume(q, () => {})), want, "consume");
  assert.deepEqual(await expectChannelClose(other, (ch) => ch.get(q)), want, "get");
  assert.deepEqual(await expectChannelClose(other, (ch) => ch.purgeQueue(q)), want, "purge");
  assert.deepEqual(await expectChannelClose(other, (ch) => ch.deleteQueue(q)), want, "delete");

  // The owner still uses it freely.
  och.sendToQueue(q, Buffer.from("mine"));
  await waitFor(async () => (await och.checkQueue(q)).messageCount === 1);
  await och.close();
});

brokerTest("exclusive queue is deleted when its connection closes", async (ctx) => {
  const owner = await amqplibConnect(ctx);
  const och = await owner.createChannel();
  const q = uniqueName("exclusive-gone");
  await och.assertQueue(q, { exclusive: true });
  await owner.close();

  const other = await amqplibConnect(ctx);
  const want = { code: 404, text: `NOT_FOUND - no queue '${q}' in vhost '/'` };
  // Deletion may be asynchronous on the broker side: poll with fresh channels.
  let last: unknown;
  await waitFor(async () => {
    last = await expectChannelClose(other, (ch) => ch.checkQueue(q)).catch((e) => e);
    return JSON.stringify(last) === JSON.stringify(want);
  }, { message: "exclusive queue still exists" });
  assert.deepEqual(last, want);
});

brokerTest(
  "redeclare with a different durable flag: 406 PRECONDITION_FAILED inequivalent arg",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createChannel();
    const transient = uniqueName("transient");
    const durable = uniqueName("durable");
    await ch.assertQueue(transient, { durable: false });
    await ch.assertQueue(durable, { durable: true });

    assert.deepEqual(await expectChannelClose(conn, (c) => c.assertQueue(transient, { durable: true })), {
      code: 406,
      text:
        `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${transient}' in vhost '/': received 'true' but current is 'false'`,
    });
    assert.deepEqual(await expectChannelClose(conn, (c) => c.assertQueue(durable, { durable: false })), {
      code: 406,
      text:
        `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${durable}' in vhost '/': received 'false' but current is 'true'`,
    });
    assert.deepEqual(
      await expectChannelClose(conn, (c) => c.assertQueue(transient, { durable: false, autoDelete: true })),
      {
        code: 406,
        text:
          `PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue '${transient}' in vhost '/': received 'true' but current is 'false'`,
      },
    );

    // An equivalent redeclare is fine.
    assert.equal((await ch.assertQueue(transient, { durable: false })).queue, transient);
    await ch.deleteQueue(transient);
    await ch.deleteQueue(durable);
    await ch.close();
  },
);

brokerTest("ack of an unknown delivery tag: 406 PRECONDITION_FAILED - unknown delivery tag", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const w = await watchedChannel(conn);
  w.ch.ack({ fields: { deliveryTag: 7 } } as Message);
  assert.deepEqual(await w.waitClosed(), { code: 406, text: "PRECONDITION_FAILED - unknown delivery tag 7" });

  // Acking a tag twice is the same error (the tag is unknown the second time).
  const w2 = await watchedChannel(conn);
  const q = uniqueName("double-ack");
  await w2.ch.assertQueue(q, { exclusive: true });
  w2.ch.sendToQueue(q, Buffer.from("x"));
  await waitFor(async () => (await w2.ch.checkQueue(q)).messageCount === 1);
  const m = await w2.ch.get(q, { noAck: false });
  assert.ok(m);
  assert.equal(m.fields.deliveryTag, 1);
  w2.ch.ack(m);
  w2.ch.ack(m);
  assert.deepEqual(await w2.waitClosed(), {
    code: 406,
    text: "PRECONDITION_FAILED - unknown delivery tag 1",
  });
});
