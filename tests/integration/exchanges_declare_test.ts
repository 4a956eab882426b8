// exchange.declare / exchange.delete / queue.bind / exchange.bind and their errors, with reply codes and
// texts exactly as RabbitMQ 3.10 sends them; internal and auto-delete exchanges.
// Reference run: WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5682/ deno test -A <this file>

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, isExternal, type TestCtx, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, type CloseReason, closeReason, expectChannelClose } from "./_clients.ts";
import { amqplib } from "./_deps.ts";
import type { AmqplibConnection, Channel } from "./_deps.ts";

const V = "in vhost '/'";
const noExchange = (x: string): CloseReason => ({ code: 404, text: `NOT_FOUND - no exchange '${x}' ${V}` });
const noQueue = (q: string): CloseReason => ({ code: 404, text: `NOT_FOUND - no queue '${q}' ${V}` });
const DEFAULT_REFUSED: CloseReason = {
  code: 403,
  text: "ACCESS_REFUSED - operation not permitted on the default exchange",
};
const inequivalent = (x: string, arg: string, received: string, current: string): CloseReason => ({
  code: 406,
  text: `PRECONDITION_FAILED - inequivalent arg '${arg}' for exchange '${x}' ${V}: ` +
    `received '${received}' but current is '${current}'`,
});

/** On an external broker, deletes the exchanges after the test (Warren's broker is thrown away). */
function dropLater(ctx: TestCtx, ...exchanges: string[]): void {
  if (!isExternal) return;
  ctx.defer(async () => {
    const c = await amqplib.connect(ctx.url);
    c.on("error", () => {});
    try {
      const ch = await c.createChannel();
      for (const x of exchanges) await ch.deleteExchange(x);
    } finally {
      await c.close();
    }
  });
}

async function declared(
  ctx: TestCtx,
  ch: Channel,
  type: string,
  opts: Record<string, unknown> = {},
): Promise<string> {
  const name = uniqueName(`x-${type}`);
  const ok = await ch.assertExchange(name, type, { durable: false, autoDelete: false, ...opts });
  assert.deepEqual(ok, { exchange: name });
  dropLater(ctx, name);
  return name;
}

/** Whether the exchange exists, by passive declare on a fresh channel (a 404 closes only that channel). */
async function exists(conn: AmqplibConnection, x: string): Promise<boolean> {
  const ch = await conn.createChannel();
  let closed: CloseReason | undefined;
  ch.on("error", (e: unknown) => (closed = closeReason(e)));
  try {
    await ch.checkExchange(x);
  } catch (e) {
    const r = closeReason(e);
    assert.deepEqual(r, noExchange(x), "passive declare failed otherwise than 404");
    await waitFor(() => closed !== undefined);
    return false;
  }
  await ch.close();
  return true;
}

type Outcome = CloseReason | { ok: unknown };

/**
 * Runs `op` on a fresh channel: `{ ok: reply }` if it succeeded (the server did not object), otherwise the
 * channel.close reason. Table-driven tests compare whole tables so that every mismatch shows at once.
 */
async function outcome(conn: AmqplibConnection, op: (ch: Channel) => Promise<unknown>): Promise<Outcome> {
  const ch = await conn.createChannel();
  let closed: CloseReason | undefined;
  ch.on("error", (e: unknown) => (closed = closeReason(e)));
  let reply: unknown;
  try {
    reply = await op(ch);
  } catch (e) {
    await waitFor(() => closed !== undefined, {
      message: `operation failed (${e}) but the channel stayed open`,
    });
    return closed!;
  }
  await ch.close();
  return { ok: reply };
}

async function outcomes(
  conn: AmqplibConnection,
  ops: Record<string, (ch: Channel) => Promise<unknown>>,
): Promise<Record<string, Outcome>> {
  const out: Record<string, Outcome> = {};
  for (const [label, op] of Object.entries(ops)) out[label] = await outcome(conn, op);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// exchange.declare

brokerTest(
  "exchange.declare passive: an existing exchange is ok, a missing one is 404 NOT_FOUND",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createChannel();
    const x = await declared(ctx, ch, "fanout");
    assert.deepEqual(await ch.checkExchange(x), {});
    // (amq.topic, amq.headers and amq.match are checked with their types, in exchanges_routing_test.ts.)
    for (const builtin of ["amq.direct", "amq.fanout"]) {
      assert.deepEqual(await ch.checkExchange(builtin), {}, builtin);
    }
    const missing = uniqueName("missing");
    assert.deepEqual(await expectChannelClose(conn, (c) => c.checkExchange(missing)), noExchange(missing));
    // Only that channel was closed.
    assert.deepEqual(await ch.checkExchange(x), {});
    await ch.close();
  },
);

brokerTest(
  "exchange.declare again: the same properties are ok, different ones are 406 inequivalent arg",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createChannel();
    const x = await declared(ctx, ch, "direct");
    assert.deepEqual(await ch.assertExchange(x, "direct", { durable: false, autoDelete: false }), {
      exchange: x,
    });

    const redeclare = (type: string, opts: Record<string, unknown>) => (c: Channel) =>
      c.assertExchange(x, type, { durable: false, autoDelete: false, ...opts });
    assert.deepEqual(
      await outcomes(conn, {
        type: redeclare("fanout", {}),
        durable: redeclare("direct", { durable: true }),
        autoDelete: redeclare("direct", { autoDelete: true }),
        internal: redeclare("direct", { internal: true }),
        alternateExchange: redeclare("direct", { alternateExchange: "ae" }),
      }),
      {
        type: inequivalent(x, "type", "fanout", "direct"),
        durable: inequivalent(x, "durable", "true", "false"),
        autoDelete: inequivalent(x, "auto_delete", "true", "false"),
        internal: inequivalent(x, "internal", "true", "false"),
        alternateExchange: {
          code: 406,
          text: `PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange '${x}' ${V}: ` +
            "received the value 'ae' of type 'longstr' but current is none",
        },
      },
    );
    // Nothing changed: the original declaration still matches.
    assert.deepEqual(await ch.assertExchange(x, "direct", { durable: false, autoDelete: false }), {
      exchange: x,
    });

    // A durable exchange redeclared transient is refused the other way round.
    const d = await declared(ctx, ch, "fanout", { durable: true });
    assert.deepEqual(
      await expectChannelClose(conn, (c) => c.assertExchange(d, "fanout", { durable: false })),
      inequivalent(d, "durable", "false", "true"),
    );
    await ch.close();
  },
);

brokerTest("exchange.declare of an unknown type: connection.close 503 COMMAND_INVALID", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  let reason: CloseReason | undefined;
  conn.on("error", (e: unknown) => (reason = closeReason(e)));
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  const x = uniqueName("typo");
  await ch.assertExchange(x, "x-no-such-type").then(
    () => assert.fail("declare of an unknown type succeeded"),
    () => {},
  );
  await waitFor(() => reason !== undefined, { message: "the connection was not closed" });
  assert.deepEqual(reason, { code: 503, text: "COMMAND_INVALID - unknown exchange type 'x-no-such-type'" });

  // Nothing was declared.
  const other = await amqplibConnect(ctx);
  assert.equal(await exists(other, x), false);
});

brokerTest(
  "exchange.declare of a new amq.* name: 403 ACCESS_REFUSED; built-ins redeclare as they are",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    assert.deepEqual(await expectChannelClose(conn, (c) => c.assertExchange("amq.foo", "direct")), {
      code: 403,
      text: "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'",
    });
    assert.deepEqual(
      await expectChannelClose(conn, (c) => c.assertExchange("amq.mine", "fanout", { durable: false })),
      { code: 403, text: "ACCESS_REFUSED - exchange name 'amq.mine' contains reserved prefix 'amq.*'" },
    );
    assert.equal(await exists(conn, "amq.foo"), false);

    const ch = await conn.createChannel();
    for (const [x, type] of [["amq.direct", "direct"], ["amq.fanout", "fanout"]]) {
      assert.deepEqual(await ch.assertExchange(x, type, { durable: true }), { exchange: x });
    }
    assert.deepEqual(
      await expectChannelClose(conn, (c) => c.assertExchange("amq.direct", "fanout", { durable: true })),
      inequivalent("amq.direct", "type", "fanout", "direct"),
    );
    await ch.close();
  },
);

// ---------------------------------------------------------------------------------------------------------
// exchange.delete

brokerTest("exchange.delete of amq.direct: 403 ACCESS_REFUSED, and it stays", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  assert.deepEqual(await expectChannelClose(conn, (c) => c.deleteExchange("amq.direct")), {
    code: 403,
    text: `ACCESS_REFUSED - deletion of system exchange 'amq.direct' ${V} not allowed`,
  });
  assert.deepEqual(
    await expectChannelClose(conn, (c) => c.deleteExchange("amq.fanout", { ifUnused: true })),
    {
      code: 403,
      text: `ACCESS_REFUSED - deletion of system exchange 'amq.fanout' ${V} not allowed`,
    },
  );
  assert.equal(await exists(conn, "amq.direct"), true);
  assert.equal(await exists(conn, "amq.fanout"), true);
});

brokerTest(
  "exchange.delete if-unused: 406 while it is a binding source; destination-only is unused",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createChannel();
    const x = await declared(ctx, ch, "direct");
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(queue, x, "k");
    assert.deepEqual(await expectChannelClose(conn, (c) => c.deleteExchange(x, { ifUnused: true })), {
      code: 406,
      text: `PRECONDITION_FAILED - exchange '${x}' ${V} in use`,
    });
    assert.equal(await exists(conn, x), true);

    // An exchange-to-exchange binding from x counts too.
    await ch.unbindQueue(queue, x, "k");
    const dst = await declared(ctx, ch, "fanout");
    await ch.bindExchange(dst, x, "k");
    assert.deepEqual(await expectChannelClose(conn, (c) => c.deleteExchange(x, { ifUnused: true })), {
      code: 406,
      text: `PRECONDITION_FAILED - exchange '${x}' ${V} in use`,
    });
    // dst is only a destination: it is unused, and deleting it removes the binding.
    assert.deepEqual(await ch.deleteExchange(dst, { ifUnused: true }), {});
    assert.equal(await exists(conn, dst), false);
    assert.deepEqual(await ch.deleteExchange(x, { ifUnused: true }), {});
    assert.equal(await exists(conn, x), false);
    await ch.close();
  },
);

brokerTest("exchange.delete of a missing exchange is ok; a deleted exchange is gone", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const missing = uniqueName("never-declared");
  assert.deepEqual(await ch.deleteExchange(missing), {});
  assert.deepEqual(await ch.deleteExchange(missing, { ifUnused: true }), {});
  const x = await declared(ctx, ch, "fanout");
  const { queue } = await ch.assertQueue("", { exclusive: true });
  await ch.bindQueue(queue, x, "");
  assert.deepEqual(await ch.deleteExchange(x), {}); // with a binding, without if-unused
  assert.deepEqual(await ch.deleteExchange(x), {});
  assert.equal(await exists(conn, x), false);
  // Publishing to it now closes the channel with 404.
  assert.deepEqual(
    await expectChannelClose(conn, (c) => {
      c.publish(x, "", Buffer.from("late"));
      return c.checkQueue(queue);
    }),
    noExchange(x),
  );
  assert.equal((await ch.checkQueue(queue)).messageCount, 0);
  await ch.close();
});

// ---------------------------------------------------------------------------------------------------------
// The default exchange

brokerTest("default exchange: declare, delete, bind and unbind are 403 ACCESS_REFUSED", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue("", { exclusive: true });
  const x = await declared(ctx, ch, "fanout");
  const ops: Record<string, (c: Channel) => Promise<unknown>> = {
    "queue.bind": (c) => c.bindQueue(queue, "", "k"),
    "queue.bind to the queue's own name": (c) => c.bindQueue(queue, "", queue),
    "queue.unbind": (c) => c.unbindQueue(queue, "", queue),
    "exchange.delete": (c) => c.deleteExchange(""),
    "exchange.declare": (c) => c.assertExchange("", "direct"),
    "exchange.declare passive": (c) => c.checkExchange(""),
    "exchange.bind from it": (c) => c.bindExchange(x, "", "k"),
    "exchange.bind to it": (c) => c.bindExchange("", x, "k"),
    "exchange.unbind": (c) => c.unbindExchange(x, "", "k"),
  };
  assert.deepEqual(
    await outcomes(conn, ops),
    Object.fromEntries(Object.keys(ops).map((k) => [k, DEFAULT_REFUSED])),
  );
  // It still routes by queue name.
  ch.sendToQueue(queue, Buffer.from("still works"));
  await waitFor(async () => (await ch.checkQueue(queue)).messageCount === 1);
  await ch.close();
});

// ---------------------------------------------------------------------------------------------------------
// Internal exchanges

brokerTest(
  "internal exchange: basic.publish to it is 403; routing into it through e2e works",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createChannel();
    const internal = await declared(ctx, ch, "fanout", { internal: true });
    const front = await declared(ctx, ch, "direct");
    await ch.bindExchange(internal, front, "in");
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(queue, internal, "");

    assert.deepEqual(
      await expectChannelClose(conn, (c) => {
        c.publish(internal, "", Buffer.from("direct to internal"));
        return c.checkQueue(queue);
      }),
      { code: 403, text: `ACCESS_REFUSED - cannot publish to internal exchange '${internal}' ${V}` },
    );
    ch.publish(front, "in", Buffer.from("through front"));
    await waitFor(async () => (await ch.checkQueue(queue)).messageCount === 1);
    const m = await ch.get(queue, { noAck: true });
    assert.ok(m);
    assert.equal(m.content.toString(), "through front");
    assert.deepEqual([m.fields.exchange, m.fields.routingKey], [front, "in"]);
    assert.deepEqual(await ch.checkQueue(queue), { queue, messageCount: 0, consumerCount: 0 });
    await ch.close();
  },
);

// ---------------------------------------------------------------------------------------------------------
// Auto-delete exchanges

brokerTest(
  "auto-delete exchange: kept until its last binding goes, then passive declare is 404",
  async (ctx) => {
    const conn = await amqplibConnect(ctx);
    const ch = await conn.createChannel();
    const x = await declared(ctx, ch, "direct", { autoDelete: true });
    // Never bound: it stays.
    assert.equal(await exists(conn, x), true);
    const { queue: q1 } = await ch.assertQueue("", { exclusive: true });
    const { queue: q2 } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(q1, x, "a");
    await ch.bindQueue(q1, x, "b");
    await ch.bindQueue(q2, x, "a");
    await ch.unbindQueue(q1, x, "a");
    await ch.unbindQueue(q1, x, "b");
    assert.equal(await exists(conn, x), true, "one binding is left");
    await ch.unbindQueue(q2, x, "a");
    await waitFor(async () => !(await exists(conn, x)), { message: "auto-delete exchange still exists" });
    assert.deepEqual(await expectChannelClose(conn, (c) => c.checkExchange(x)), noExchange(x));
    await ch.close();
  },
);

brokerTest("auto-delete exchange: deleting its last bound queue or exchange deletes it", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const byQueue = await declared(ctx, ch, "fanout", { autoDelete: true });
  const { queue } = await ch.assertQueue("", { exclusive: true });
  await ch.bindQueue(queue, byQueue, "");
  assert.deepEqual(await ch.deleteQueue(queue), { messageCount: 0 });
  await waitFor(async () => !(await exists(conn, byQueue)), { message: "queue-bound exchange still exists" });

  const byExchange = await declared(ctx, ch, "fanout", { autoDelete: true });
  const dst = await declared(ctx, ch, "fanout");
  await ch.bindExchange(dst, byExchange, "");
  // Being a destination is not a binding of its own: an auto-delete destination stays when unbound.
  const autoDst = await declared(ctx, ch, "fanout", { autoDelete: true });
  const src = await declared(ctx, ch, "fanout");
  await ch.bindExchange(autoDst, src, "");
  await ch.unbindExchange(autoDst, src, "");
  assert.equal(await exists(conn, autoDst), true);

  await ch.deleteExchange(dst);
  await waitFor(async () => !(await exists(conn, byExchange)), {
    message: "e2e-bound exchange still exists",
  });
  await ch.close();
});

// ---------------------------------------------------------------------------------------------------------
// Bindings to missing things

brokerTest("queue.bind / exchange.bind to a missing exchange or queue: 404 NOT_FOUND", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const x = await declared(ctx, ch, "direct");
  const { queue } = await ch.assertQueue("", { exclusive: true });
  const mx = uniqueName("missing-x");
  const mq = uniqueName("missing-q");
  const mx2 = uniqueName("missing-x2");
  assert.deepEqual(
    await outcomes(conn, {
      "queue.bind, missing exchange": (c) => c.bindQueue(queue, mx, "k"),
      "queue.bind, missing queue": (c) => c.bindQueue(mq, x, "k"),
      "queue.bind, both missing": (c) => c.bindQueue(mq, mx, "k"),
      "exchange.bind, missing source": (c) => c.bindExchange(x, mx, "k"),
      "exchange.bind, missing destination": (c) => c.bindExchange(mx, x, "k"),
      "exchange.bind, both missing": (c) => c.bindExchange(mx, mx2, "k"), // destination mx, source mx2
    }),
    {
      "queue.bind, missing exchange": noExchange(mx),
      "queue.bind, missing queue": noQueue(mq),
      "queue.bind, both missing": noExchange(mx), // the source is checked first
      "exchange.bind, missing source": noExchange(mx),
      "exchange.bind, missing destination": noExchange(mx),
      "exchange.bind, both missing": noExchange(mx2), // the source is checked first here too
    },
  );

  // Unbinding what does not exist is not an error in RabbitMQ 3.10.
  assert.deepEqual(await ch.unbindQueue(queue, x, "never-bound"), {});
  assert.deepEqual(await ch.unbindQueue(queue, mx, "k"), {});
  assert.deepEqual(await ch.unbindQueue(mq, x, "k"), {});
  assert.deepEqual(await ch.unbindExchange(x, "amq.fanout", "never-bound"), {});
  await ch.close();
});
