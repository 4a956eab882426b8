// x-consumer-timeout (Warren): a consumer that holds a delivery unacknowledged for longer than
// its queue's timeout is cancelled with basic.cancel and its messages go back to the queue,
// marked redelivered, while its channel and the channel's other consumers carry on. (RabbitMQ
// 3.10 has only a broker-wide timeout that closes the whole channel, so this runs on Warren only.)

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, isExternal, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect } from "./_clients.ts";

if (!isExternal) {
  brokerTest("x-consumer-timeout cancels only the late consumer and requeues its messages", async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createConfirmChannel();
    const slow = uniqueName("slow");
    const fine = uniqueName("fine");
    await ch.assertQueue(slow, { exclusive: true, arguments: { "x-consumer-timeout": 500 } });
    await ch.assertQueue(fine, { exclusive: true });
    const held: string[] = [];
    let cancelled = false;
    await ch.consume(slow, (m) => {
      if (m === null) cancelled = true; // amqplib's way of reporting a server-sent basic.cancel
      else held.push(m.content.toString()); // never acked
    });
    const fineGot: string[] = [];
    await ch.consume(fine, (m) => {
      if (m) {
        fineGot.push(m.content.toString());
        ch.ack(m);
      }
    });
    ch.sendToQueue(slow, Buffer.from("stuck"));
    ch.sendToQueue(fine, Buffer.from("before"));
    await ch.waitForConfirms();
    await waitFor(() => held.length === 1 && fineGot.length === 1);
    const started = Date.now();
    await waitFor(() => cancelled, { timeout: 4000, message: "slow consumer was not cancelled" });
    assert.ok(Date.now() - started >= 400, "cancelled before its timeout");

    // The channel lives on: the other consumer still gets messages.
    ch.sendToQueue(fine, Buffer.from("after"));
    await ch.waitForConfirms();
    await waitFor(() => fineGot.length === 2);
    assert.deepEqual(fineGot, ["before", "after"]);

    // The held message is back in its queue, redelivered.
    const again = await ch.get(slow, { noAck: true });
    assert.ok(again !== false, "message was not requeued");
    assert.equal(again.content.toString(), "stuck");
    assert.equal(again.fields.redelivered, true);
  });
}
