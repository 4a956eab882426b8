// Transactions and publisher confirms: tx.commit applies publishes and acks together, tx.rollback
// discards both (the acked messages stay unacked), and under load every publish is confirmed
// exactly once, in order. Checked against RabbitMQ 3.10 (WARREN_TEST_URL).

import assert from "node:assert/strict";
import { brokerTest, uniqueName, waitFor } from "./_broker.ts";
import { AMQPClient } from "./_deps.ts";

brokerTest("tx: rollback discards publishes and acks; commit applies them", async (ctx) => {
  const conn = await new AMQPClient(ctx.url).connect();
  ctx.defer(() => conn.close().catch(() => {}));
  const setup = await conn.channel();
  const q = uniqueName("tx");
  await setup.queueDeclare(q, { exclusive: true });
  await setup.basicPublish("", q, "work");
  const depth = async () => (await setup.queueDeclare(q, { passive: true })).messageCount;
  await waitFor(async () => (await depth()) === 1);

  const ch = await conn.channel();
  const work = await ch.basicGet(q, { noAck: false });
  assert.ok(work !== null);
  await ch.txSelect();
  await ch.basicPublish("", q, "result-1");
  await ch.basicAck(work.deliveryTag);
  await ch.txRollback();
  // Nothing happened: no new message, and "work" is still unacked (not back in the queue).
  assert.equal(await depth(), 0);

  await ch.basicPublish("", q, "result-2");
  await ch.basicAck(work.deliveryTag);
  await ch.txCommit();
  await waitFor(async () => (await depth()) === 1);
  const m = await setup.basicGet(q, { noAck: true });
  assert.equal(m?.bodyToString(), "result-2");
  // The ack was committed too: closing the channel does not bring "work" back.
  await ch.close();
  assert.equal(await depth(), 0);
});

brokerTest("confirms under load: 20,000 publishes, each confirmed exactly once, in order", async (ctx) => {
  const client = new AMQPClient(ctx.url);
  const conn = await client.connect();
  ctx.defer(() => conn.close().catch(() => {}));
  const ch = await conn.channel();
  const q = await ch.queue(uniqueName("confirms"), { exclusive: true });
  await ch.confirmSelect();
  const confirmed: number[] = [];
  const pending: Promise<number>[] = [];
  for (let i = 0; i < 20_000; i++) {
    pending.push(
      ch.basicPublish("", q.name, `m${i}`).then((tag) => {
        confirmed.push(tag);
        return tag;
      }),
    );
  }
  const tags = await Promise.all(pending);
  assert.deepEqual(tags, Array.from({ length: 20_000 }, (_, i) => i + 1));
  assert.equal(new Set(confirmed).size, 20_000);
  assert.equal((await ch.queueDeclare(q.name, { passive: true })).messageCount, 20_000);
});
