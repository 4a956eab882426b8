// Consumers: round-robin dispatch, basic.cancel from the client and from the server.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { assertStaysFalse, brokerTest, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect } from "./_clients.ts";
import type { ConsumeMessage } from "./_deps.ts";

brokerTest("two consumers on one queue receive messages round-robin", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch1 = await conn.createChannel();
  const ch2 = await conn.createChannel();
  const q = uniqueName("rr");
  await ch1.assertQueue(q, { autoDelete: false });

  const owner = new Map<string, string>(); // body -> consumer tag
  const onMsg = (ch: typeof ch1) => (m: ConsumeMessage | null) => {
    if (!m) return;
    owner.set(m.content.toString(), m.fields.consumerTag);
    ch.ack(m);
  };
  const c1 = await ch1.consume(q, onMsg(ch1), { consumerTag: "ctag-one" });
  const c2 = await ch2.consume(q, onMsg(ch2), { consumerTag: "ctag-two" });
  assert.equal(c1.consumerTag, "ctag-one");
  assert.equal(c2.consumerTag, "ctag-two");
  assert.equal((await ch1.checkQueue(q)).consumerCount, 2);

  const N = 20;
  for (let i = 0; i < N; i++) ch1.sendToQueue(q, Buffer.from(`m${i}`));
  await waitFor(() => owner.size === N);

  const sequence = Array.from({ length: N }, (_, i) => owner.get(`m${i}`));
  for (let i = 1; i < N; i++) {
    assert.notEqual(
      sequence[i],
      sequence[i - 1],
      `m${i - 1} and m${i} went to the same consumer: ${sequence}`,
    );
  }
  assert.equal(sequence.filter((t) => t === "ctag-one").length, N / 2);
  assert.equal(sequence.filter((t) => t === "ctag-two").length, N / 2);

  await ch1.deleteQueue(q);
  await ch1.close();
  await ch2.close();
});

brokerTest("basic.cancel stops deliveries; later messages stay in the queue", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const q = uniqueName("cancel");
  await ch.assertQueue(q, { autoDelete: false });
  const got: string[] = [];
  const { consumerTag } = await ch.consume(q, (m) => {
    if (m) got.push(m.content.toString());
  }, { noAck: true });
  ch.sendToQueue(q, Buffer.from("before"));
  await waitFor(() => got.length === 1);

  await ch.cancel(consumerTag); // resolves on basic.cancel-ok
  assert.equal((await ch.checkQueue(q)).consumerCount, 0);

  ch.sendToQueue(q, Buffer.from("after-1"));
  ch.sendToQueue(q, Buffer.from("after-2"));
  await waitFor(async () => (await ch.checkQueue(q)).messageCount === 2);
  await assertStaysFalse(() => got.length > 1, 200, { message: "delivery after basic.cancel" });
  assert.deepEqual(got, ["before"]);

  assert.deepEqual(await ch.deleteQueue(q), { messageCount: 2 });
  await ch.close();
});

brokerTest("deleting a queue from another channel sends basic.cancel to its consumer", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const consumerCh = await conn.createChannel();
  const q = uniqueName("srv-cancel");
  await consumerCh.assertQueue(q, { autoDelete: false });
  const events: (string | null)[] = [];
  await consumerCh.consume(q, (m) => events.push(m === null ? null : m.content.toString()), { noAck: true });

  const other = await conn.createChannel();
  other.sendToQueue(q, Buffer.from("one"));
  await waitFor(() => events.length === 1);
  assert.deepEqual(await other.deleteQueue(q), { messageCount: 0 });

  // amqplib hands a server-sent basic.cancel to the callback as null.
  await waitFor(() => events.length === 2);
  assert.deepEqual(events, ["one", null]);

  // The consumer's channel stays usable.
  const probe = uniqueName("after-cancel");
  assert.equal((await consumerCh.assertQueue(probe, { exclusive: true })).queue, probe);
  await other.close();
  await consumerCh.close();
});
