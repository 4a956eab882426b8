// The x-message-deduplication exchange type (Warren plugin, after rabbitmq-message-deduplication,
// which the reference RabbitMQ here does not have): with publisher confirms, a publisher that
// sends the same message twice (say, after a lost confirm) gets both confirmed and the queue gets
// one copy.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, isExternal, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect } from "./_clients.ts";

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
