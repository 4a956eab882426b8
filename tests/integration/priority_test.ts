// x-max-priority: delivery by message priority, FIFO within a priority, priorities above the
// maximum treated as the maximum, a requeued message back at the front of its own priority, and
// RabbitMQ's texts for bad values. Checked against RabbitMQ 3.10 (WARREN_TEST_URL).

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, uniqueName } from "./_broker.ts";
import { amqplibConnect, expectChannelClose } from "./_clients.ts";

brokerTest(
  "x-max-priority: by priority, FIFO within one, above the maximum counts as the maximum",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createConfirmChannel();
    const q = uniqueName("prio");
    await ch.assertQueue(q, { exclusive: true, arguments: { "x-max-priority": 5 } });
    const sent: [string, number | undefined][] = [["a", 1], ["b", 9], ["c", 0], ["d", 5], ["e", undefined], [
      "f",
      3,
    ]];
    for (const [body, priority] of sent) {
      ch.sendToQueue(
        q,
        Buffer.from(body),
        priority === undefined ? {} : { priority },
      );
    }
    await ch.waitForConfirms();
    const out: string[] = [];
    for (;;) {
      const m = await ch.get(q, { noAck: true });
      if (m === false) break;
      out.push(`${m.content}:${m.properties.priority}`);
    }
    assert.deepEqual(out, ["b:9", "d:5", "f:3", "a:1", "c:0", "e:undefined"]);
  },
);

brokerTest("x-max-priority: a requeued message goes back to the front of its own priority", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createConfirmChannel();
  const q = uniqueName("prio-requeue");
  await ch.assertQueue(q, { exclusive: true, arguments: { "x-max-priority": 3 } });
  for (const [body, priority] of [["low1", 1], ["high1", 3], ["high2", 3], ["low2", 1]] as const) {
    ch.sendToQueue(q, Buffer.from(body), { priority });
  }
  await ch.waitForConfirms();
  const first = await ch.get(q);
  assert.ok(first !== false);
  assert.equal(first.content.toString(), "high1");
  ch.nack(first, false, true);
  const out: string[] = [];
  for (;;) {
    const m = await ch.get(q, { noAck: true });
    if (m === false) break;
    out.push(`${m.content}${m.fields.redelivered ? "*" : ""}`);
  }
  assert.deepEqual(out, ["high1*", "high2", "low1", "low2"]);
});

brokerTest("x-max-priority: bad values are refused with RabbitMQ's texts; 0 is accepted", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const q = uniqueName("prio-bad");
  const cases: [unknown, string][] = [
    [256, "{max_value_exceeded,256}"],
    [-1, "{value_negative,-1}"],
    ["x", '"expected integer, got longstr"'],
  ];
  for (const [value, problem] of cases) {
    const reason = await expectChannelClose(
      conn,
      (ch) => ch.assertQueue(q, { exclusive: true, arguments: { "x-max-priority": value } }),
    );
    assert.deepEqual(reason, {
      code: 406,
      text: `PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue '${q}' in vhost '/': ${problem}`,
    });
  }
  const ch = await conn.createChannel();
  await ch.assertQueue(q, { exclusive: true, arguments: { "x-max-priority": 0 } });
});
