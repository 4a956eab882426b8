// basic.qos prefetch is honoured for unacked deliveries.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { assertStaysFalse, brokerTest, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, cloudConnect } from "./_clients.ts";
import type { AMQPMessage, ConsumeMessage } from "./_deps.ts";

const PREFETCH = 5;
const TOTAL = 20;
/** How long "no more deliveries" is watched for: long enough for a broker to overshoot. */
const QUIET_MS = 300;

brokerTest(
  "amqplib: basic.qos(5) limits unacked deliveries to 5; one ack lets exactly one more through",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const pub = await conn.createChannel();
    const q = uniqueName("qos");
    await pub.assertQueue(q, { autoDelete: false });
    for (let i = 0; i < TOTAL; i++) pub.sendToQueue(q, Buffer.from(`m${i}`));
    await waitFor(async () => (await pub.checkQueue(q)).messageCount === TOTAL);

    const ch = await conn.createChannel();
    await ch.prefetch(PREFETCH);
    const got: ConsumeMessage[] = [];
    await ch.consume(q, (m) => {
      if (m) got.push(m);
    }, { noAck: false });

    await waitFor(() => got.length >= PREFETCH);
    await assertStaysFalse(() => got.length > PREFETCH, QUIET_MS, {
      message: "more than prefetch delivered",
    });
    assert.equal(got.length, PREFETCH);
    assert.deepEqual(got.map((m) => m.content.toString()), ["m0", "m1", "m2", "m3", "m4"]);
    // The rest waits in the queue.
    assert.equal((await pub.checkQueue(q)).messageCount, TOTAL - PREFETCH);

    ch.ack(got[0]);
    await waitFor(() => got.length >= PREFETCH + 1);
    await assertStaysFalse(() => got.length > PREFETCH + 1, QUIET_MS, {
      message: "more than one delivered per ack",
    });
    assert.equal(got.length, PREFETCH + 1);
    assert.equal(got[PREFETCH].content.toString(), "m5");

    // Acking two at once (multiple=true up to the 3rd tag) frees two slots.
    ch.ack(got[2], true);
    await waitFor(() => got.length >= PREFETCH + 3);
    await assertStaysFalse(() => got.length > PREFETCH + 3, QUIET_MS);
    assert.deepEqual(got.slice(PREFETCH).map((m) => m.content.toString()), ["m5", "m6", "m7"]);

    await ch.close();
    // Nothing was lost: closing the channel requeued the unacked ones.
    await waitFor(async () => (await pub.checkQueue(q)).messageCount === TOTAL - 3);
    await pub.deleteQueue(q);
    await pub.close();
  },
);

brokerTest("@cloudamqp/amqp-client: basicQos(3) limits unacked deliveries to 3", async (ctx) => {
  const client = await cloudConnect(ctx);
  const ch = await client.channel();
  const q = uniqueName("qos-cloud");
  await ch.queueDeclare(q, { autoDelete: false });
  for (let i = 0; i < 10; i++) await ch.basicPublish("", q, `m${i}`);
  await ch.basicQos(3);
  const got: AMQPMessage[] = [];
  await ch.basicConsume(q, { noAck: false }, (m) => {
    got.push(m);
  });
  await waitFor(() => got.length >= 3);
  await assertStaysFalse(() => got.length > 3, QUIET_MS);
  assert.deepEqual(got.map((m) => m.bodyToString()), ["m0", "m1", "m2"]);
  await got[1].ack();
  await waitFor(() => got.length >= 4);
  await assertStaysFalse(() => got.length > 4, QUIET_MS);
  assert.equal(got[3].bodyToString(), "m3");
  await ch.close();
  const ch2 = await client.channel();
  assert.deepEqual(await ch2.queueDelete(q), { messageCount: 9 });
  await ch2.close();
});
