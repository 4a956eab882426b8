// x-delivery-limit on a classic queue (RabbitMQ offers it only on quorum queues): a message that
// comes back to its queue (nack/reject with requeue, or its channel closed) more than N times is
// dead-lettered with reason `delivery_limit` (dropped without a DLX), and each redelivery carries
// `x-delivery-count`. Warren only: RabbitMQ ignores the argument on classic queues.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, isExternal, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect } from "./_clients.ts";
import type { GetMessage } from "./_deps.ts";

// Registered only against Warren (see above).
if (!isExternal) {
  brokerTest(
    "a poison message is redelivered N times with x-delivery-count, then parked in the DLQ",
    async (ctx) => {
      const conn = await amqplibConnect(ctx);
      const ch = await conn.createConfirmChannel();
      const dlx = uniqueName("park");
      await ch.assertExchange(dlx, "fanout", { autoDelete: true });
      const dlq = (await ch.assertQueue("", { exclusive: true })).queue;
      await ch.bindQueue(dlq, dlx, "");
      const q = (await ch.assertQueue("", {
        exclusive: true,
        arguments: { "x-delivery-limit": 2, "x-dead-letter-exchange": dlx },
      })).queue;
      ch.sendToQueue(q, Buffer.from("poison"), { headers: { app: "a" } });
      await ch.waitForConfirms();

      const counts: unknown[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        let m: GetMessage | false = false;
        await waitFor(async () => (m = await ch.get(q)) !== false);
        const got = m as unknown as GetMessage;
        assert.equal(got.content.toString(), "poison");
        assert.equal(got.fields.redelivered, attempt > 0);
        assert.equal(got.properties.headers?.app, "a");
        counts.push(got.properties.headers?.["x-delivery-count"]);
        ch.nack(got, false, true);
      }
      assert.deepEqual(counts, [undefined, 1, 2]);

      let parked: GetMessage | false = false;
      await waitFor(async () => (parked = await ch.get(dlq, { noAck: true })) !== false);
      const p = parked as unknown as GetMessage;
      assert.equal(p.content.toString(), "poison");
      const death = (p.properties.headers?.["x-death"] as unknown as Record<string, unknown>[])[0];
      assert.equal(death.reason, "delivery_limit");
      assert.equal(death.queue, q);
      assert.equal(death.count, 1);
      assert.equal(p.properties.headers?.["x-first-death-reason"], "delivery_limit");
      assert.equal(await ch.get(q), false, "nothing left in the source queue");
    },
  );

  brokerTest("without a DLX a message over its delivery limit is dropped", async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createConfirmChannel();
    const q = (await ch.assertQueue("", { exclusive: true, arguments: { "x-delivery-limit": 0 } })).queue;
    ch.sendToQueue(q, Buffer.from("once"));
    await ch.waitForConfirms();
    let m: GetMessage | false = false;
    await waitFor(async () => (m = await ch.get(q)) !== false);
    ch.nack(m as unknown as GetMessage, false, true);
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 0);
    assert.equal(await ch.get(q), false);
  });
}
