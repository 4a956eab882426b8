// The x-message-deduplication exchange type (Warren plugin, after rabbitmq-message-deduplication,
// which the reference RabbitMQ here does not have): with publisher confirms, a publisher that
// sends the same message twice (say, after a lost confirm) gets both confirmed and the queue gets
// one copy.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, isExternal, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, expectChannelClose } from "./_clients.ts";
import type { amqplib } from "./_deps.ts";

if (!isExternal) {
  brokerTest("x-message-deduplication: duplicates are confirmed but routed once", async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createConfirmChannel();
    const ex = uniqueName("dedup");
    await ch.assertExchange(ex, "x-message-deduplication", {
      autoDelete: true,
      arguments: { "x-cache-size": 1000 },
    });
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(queue, ex, "");
    const confirms: string[] = [];
    for (const id of ["order-1", "order-2", "order-1", "order-1", "order-3"]) {
      ch.publish(ex, "", Buffer.from(id), { headers: { "x-deduplication-header": id } }, (err) => {
        confirms.push(err ? "nack" : "ack");
      });
    }
    await ch.waitForConfirms();
    assert.deepEqual(confirms, ["ack", "ack", "ack", "ack", "ack"]);
    await waitFor(async () => (await ch.checkQueue(queue)).messageCount === 3);
    const bodies: string[] = [];
    for (
      let m = await ch.get(queue, { noAck: true });
      m !== false;
      m = await ch.get(queue, { noAck: true })
    ) {
      bodies.push(m.content.toString());
    }
    assert.deepEqual(bodies, ["order-1", "order-2", "order-3"]);
  });
}

if (!isExternal) {
  brokerTest(
    "queue-level x-message-deduplication: a value already in the queue is dropped (still confirmed)",
    async (ctx) => {
      const conn = await amqplibConnect(ctx);
      const ch = await conn.createConfirmChannel();
      const q = uniqueName("dedup-q");
      await ch.assertQueue(q, { exclusive: true, arguments: { "x-message-deduplication": true } });
      const confirms: string[] = [];
      const publish = (id: string, body = id) =>
        ch.sendToQueue(q, Buffer.from(body), { headers: { "x-deduplication-header": id } }, (err) => {
          confirms.push(err ? "nack" : "ack");
        });
      publish("a", "a1");
      publish("b");
      publish("a", "a2"); // "a" is in the queue: dropped
      ch.sendToQueue(q, Buffer.from("no-header"));
      ch.sendToQueue(q, Buffer.from("no-header"));
      await ch.waitForConfirms();
      assert.deepEqual(confirms, ["ack", "ack", "ack"]);
      assert.equal((await ch.checkQueue(q)).messageCount, 4);

      // Delivered but not acked: still in the queue, so still a duplicate; a requeue keeps one copy.
      const first = await ch.get(q, { noAck: false });
      assert.equal(first && first.content.toString(), "a1");
      publish("a", "a3");
      await ch.waitForConfirms();
      ch.nack(first as amqplib.Message, false, true);
      await waitFor(async () => (await ch.checkQueue(q)).messageCount === 4);

      // Acked: the value is free again.
      const again = await ch.get(q, { noAck: false });
      assert.equal(again && again.content.toString(), "a1");
      assert.equal(again && again.fields.redelivered, true);
      ch.ack(again as amqplib.Message);
      publish("a", "a4");
      await ch.waitForConfirms();
      const bodies: string[] = [];
      for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true })) {
        bodies.push(m.content.toString());
      }
      assert.deepEqual(bodies, ["b", "no-header", "no-header", "a4"]);
      // Fetched with no-ack: gone for good, so "b" is free again.
      publish("b", "b2");
      await ch.waitForConfirms();
      assert.equal((await ch.checkQueue(q)).messageCount, 1);
    },
  );

  brokerTest("queue-level x-message-deduplication: a non-boolean value is refused with 406", async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const result = await expectChannelClose(
      conn,
      (c) =>
        c.assertQueue(uniqueName("dq"), { exclusive: true, arguments: { "x-message-deduplication": "yes" } }),
    );
    assert.deepEqual(result, {
      code: 406,
      text: "PRECONDITION_FAILED - invalid arg 'x-message-deduplication': expected a boolean",
    });
  });
}
