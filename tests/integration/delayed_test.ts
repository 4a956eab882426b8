// The x-delayed-message exchange type (Warren plugin, after rabbitmq_delayed_message_exchange,
// which the reference RabbitMQ here does not have): messages with an x-delay header are held and
// routed when due, in due order; others route at once like the wrapped x-delayed-type.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, isExternal, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, expectChannelClose } from "./_clients.ts";

if (!isExternal) {
  brokerTest("x-delayed-message: delayed messages arrive when due and in due order", async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createConfirmChannel();
    const ex = uniqueName("delayed");
    await ch.assertExchange(ex, "x-delayed-message", {
      autoDelete: true,
      arguments: { "x-delayed-type": "direct" },
    });
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(queue, ex, "jobs");
    const got: { body: string; at: number }[] = [];
    await ch.consume(queue, (m) => m && got.push({ body: m.content.toString(), at: Date.now() }), {
      noAck: true,
    });
    const t0 = Date.now();
    // Published in the reverse of their due order, plus one without a delay.
    ch.publish(ex, "jobs", Buffer.from("late"), { headers: { "x-delay": 900 }, mandatory: true });
    ch.publish(ex, "jobs", Buffer.from("soon"), { headers: { "x-delay": 300 }, mandatory: true });
    ch.publish(ex, "jobs", Buffer.from("now"));
    ch.publish(ex, "other-key", Buffer.from("unroutable"), { headers: { "x-delay": 100 } });
    await ch.waitForConfirms();
    await waitFor(() => got.length === 3, { timeout: 3000 });
    assert.deepEqual(got.map((g) => g.body), ["now", "soon", "late"]);
    // Due times within the broker's 100 ms tick (plus scheduling slack).
    assert.ok(got[1].at - t0 >= 250 && got[1].at - t0 < 800, `soon after ${got[1].at - t0} ms`);
    assert.ok(got[2].at - t0 >= 850 && got[2].at - t0 < 1500, `late after ${got[2].at - t0} ms`);
  });

  brokerTest("x-delayed-message: a missing or unknown x-delayed-type is refused with 406", async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const text = "PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type";
    assert.deepEqual(
      await expectChannelClose(conn, (c) => c.assertExchange(uniqueName("d1"), "x-delayed-message")),
      { code: 406, text },
    );
    assert.deepEqual(
      await expectChannelClose(
        conn,
        (c) =>
          c.assertExchange(uniqueName("d2"), "x-delayed-message", {
            arguments: { "x-delayed-type": "x-nope" },
          }),
      ),
      { code: 406, text },
    );
  });
}
