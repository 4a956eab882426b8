// Users, vhosts and permissions, as RabbitMQ 3.10 enforces them: every expected reply code and
// text here was checked against RabbitMQ (WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5682/).

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { isExternal, type TestCtx } from "./_broker.ts";
import { accessTest, type Admin, FULL, type Patterns, unique } from "./_access.ts";
import { type CloseReason, closeReason, watchedChannel } from "./_clients.ts";
import { amqplib, type AmqplibConnection, type Channel } from "./_deps.ts";
import * as W from "./_wire.ts";

type Outcome = CloseReason | "ok";

async function connectAs(ctx: TestCtx, url: string): Promise<AmqplibConnection> {
  const conn = await amqplib.connect(url);
  conn.on("error", () => {});
  let closed = false;
  conn.on("close", () => (closed = true));
  ctx.defer(async () => {
    if (!closed) await conn.close().catch(() => {});
  });
  return conn;
}

/** Runs `op` on a fresh channel: "ok", or how the broker closed the channel. */
async function outcome(conn: AmqplibConnection, op: (ch: Channel) => Promise<unknown>): Promise<Outcome> {
  const w = await watchedChannel(conn);
  let failed = false;
  try {
    await op(w.ch);
    // A round trip after the operation: a refusal (even of a publish) arrives before its reply.
    await w.ch.checkExchange("amq.direct");
  } catch {
    failed = true;
  }
  if (!failed && w.closedBy() === undefined) {
    await w.ch.close();
    return "ok";
  }
  return await w.waitClosed();
}

/** A vhost with a user holding `patterns` in it, objects declared by guest, and both connections. */
async function setup(
  ctx: TestCtx,
  admin: Admin,
  patterns: Patterns,
  objects: { queues?: string[]; exchanges?: string[] } = {},
) {
  const vhost = unique("perm-vhost");
  const user = unique("perm-user");
  await admin.addVHost(vhost);
  await admin.addUser(user, "pw");
  await admin.setPermissions(user, vhost, patterns);
  const guest = await connectAs(ctx, admin.url("guest", "guest", vhost));
  const gch = await guest.createChannel();
  for (const q of objects.queues ?? []) await gch.assertQueue(q);
  for (const e of objects.exchanges ?? []) await gch.assertExchange(e, "direct");
  const conn = await connectAs(ctx, admin.url(user, "pw", vhost));
  const refused = (kind: "queue" | "exchange", name: string): CloseReason => ({
    code: 403,
    text: `ACCESS_REFUSED - access to ${kind} '${name}' in vhost '${vhost}' refused for user '${user}'`,
  });
  return { vhost, user, guest, gch, conn, refused };
}

async function table(
  conn: AmqplibConnection,
  cases: [string, (ch: Channel) => Promise<unknown>, Outcome][],
): Promise<void> {
  const got: Record<string, Outcome> = {};
  const want: Record<string, Outcome> = {};
  for (const [name, op, expected] of cases) {
    got[name] = await outcome(conn, op);
    want[name] = expected;
  }
  assert.deepEqual(got, want);
}

const body = () => Buffer.from("m");

function pub(
  ch: Channel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  options?: Parameters<Channel["publish"]>[3],
): Promise<boolean> {
  return Promise.resolve(ch.publish(exchange, routingKey, content, options));
}

accessTest(
  "every operation is checked: configure, write and read, in RabbitMQ's order",
  async (ctx, admin) => {
    const { vhost, user, conn, refused } = await setup(
      ctx,
      admin,
      { configure: "^c-", write: "^w-", read: "^r-" },
      { queues: ["x", "c-q", "w-q", "r-q"], exchanges: ["x", "c-e", "w-e", "r-e"] },
    );
    const defaultExchange = {
      code: 403,
      text: "ACCESS_REFUSED - operation not permitted on the default exchange",
    };
    await table(conn, [
      ["queue.declare x", (ch) => ch.assertQueue("x"), refused("queue", "x")],
      ["queue.declare passive x", (ch) => ch.checkQueue("x"), "ok"],
      ["queue.declare c-new", (ch) => ch.assertQueue("c-new"), "ok"],
      ["queue.declare c-q (existing)", (ch) => ch.assertQueue("c-q"), "ok"],
      ["queue.declare amq.foo", (ch) => ch.assertQueue("amq.foo"), {
        code: 403,
        text: "ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'",
      }],
      ["queue.delete x", (ch) => ch.deleteQueue("x"), refused("queue", "x")],
      ["queue.delete missing", (ch) => ch.deleteQueue("missing"), refused("queue", "missing")],
      ["queue.purge x", (ch) => ch.purgeQueue("x"), refused("queue", "x")],
      ["queue.purge r-q", (ch) => ch.purgeQueue("r-q"), "ok"],
      ["queue.purge missing", (ch) => ch.purgeQueue("missing"), refused("queue", "missing")],
      ["queue.bind x <- r-e", (ch) => ch.bindQueue("x", "r-e", "k"), refused("queue", "x")],
      ["queue.bind w-q <- x", (ch) => ch.bindQueue("w-q", "x", "k"), refused("exchange", "x")],
      ["queue.bind w-q <- r-e", (ch) => ch.bindQueue("w-q", "r-e", "k"), "ok"],
      ["queue.bind w-q <- default", (ch) => ch.bindQueue("w-q", "", "k"), defaultExchange],
      ["queue.bind x <- default", (ch) => ch.bindQueue("x", "", "k"), refused("queue", "x")],
      [
        "queue.bind w-q <- missing",
        (ch) => ch.bindQueue("w-q", "missing", "k"),
        refused("exchange", "missing"),
      ],
      ["queue.bind w-q <- r-missing", (ch) => ch.bindQueue("w-q", "r-missing", "k"), {
        code: 404,
        text: `NOT_FOUND - no exchange 'r-missing' in vhost '${vhost}'`,
      }],
      ["queue.bind w-missing <- r-e", (ch) => ch.bindQueue("w-missing", "r-e", "k"), {
        code: 404,
        text: `NOT_FOUND - no queue 'w-missing' in vhost '${vhost}'`,
      }],
      ["queue.unbind x <- r-e", (ch) => ch.unbindQueue("x", "r-e", "k"), refused("queue", "x")],
      ["queue.unbind w-q <- x", (ch) => ch.unbindQueue("w-q", "x", "k"), refused("exchange", "x")],
      ["queue.unbind w-q <- r-e", (ch) => ch.unbindQueue("w-q", "r-e", "k"), "ok"],
      ["exchange.declare x", (ch) => ch.assertExchange("x", "direct"), refused("exchange", "x")],
      ["exchange.declare passive x", (ch) => ch.checkExchange("x"), "ok"],
      ["exchange.declare c-new", (ch) => ch.assertExchange("c-new", "fanout"), "ok"],
      ["exchange.declare default", (ch) => ch.assertExchange("", "direct"), defaultExchange],
      [
        "exchange.declare amq.foo",
        (ch) => ch.assertExchange("amq.foo", "direct"),
        refused("exchange", "amq.foo"),
      ],
      ["exchange.delete x", (ch) => ch.deleteExchange("x"), refused("exchange", "x")],
      ["exchange.delete missing", (ch) => ch.deleteExchange("missing"), refused("exchange", "missing")],
      ["exchange.delete amq.direct", (ch) => ch.deleteExchange("amq.direct"), {
        code: 403,
        text: `ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '${vhost}' not allowed`,
      }],
      ["exchange.delete c-e", (ch) => ch.deleteExchange("c-e"), "ok"],
      ["exchange.bind x <- r-e", (ch) => ch.bindExchange("x", "r-e", "k"), refused("exchange", "x")],
      ["exchange.bind w-e <- x", (ch) => ch.bindExchange("w-e", "x", "k"), refused("exchange", "x")],
      ["exchange.bind w-e <- r-e", (ch) => ch.bindExchange("w-e", "r-e", "k"), "ok"],
      ["exchange.unbind x <- r-e", (ch) => ch.unbindExchange("x", "r-e", "k"), refused("exchange", "x")],
      ["exchange.unbind w-e <- r-e", (ch) => ch.unbindExchange("w-e", "r-e", "k"), "ok"],
      ["basic.publish x", (ch) => pub(ch, "x", "k", body()), refused("exchange", "x")],
      ["basic.publish w-e", (ch) => pub(ch, "w-e", "k", body()), "ok"],
      [
        "basic.publish missing",
        (ch) => pub(ch, "missing", "k", body()),
        refused("exchange", "missing"),
      ],
      ["basic.publish w-missing", (ch) => pub(ch, "w-missing", "k", body()), {
        code: 404,
        text: `NOT_FOUND - no exchange 'w-missing' in vhost '${vhost}'`,
      }],
      [
        "basic.publish default",
        (ch) => pub(ch, "", "r-q", body()),
        refused("exchange", "amq.default"),
      ],
      ["basic.publish user_id other", (ch) => pub(ch, "w-e", "k", body(), { userId: "other" }), {
        code: 406,
        text: `PRECONDITION_FAILED - user_id property set to 'other' but authenticated user was '${user}'`,
      }],
      ["basic.publish user_id self", (ch) => pub(ch, "w-e", "k", body(), { userId: user }), "ok"],
      ["basic.consume x", (ch) => ch.consume("x", () => {}), refused("queue", "x")],
      ["basic.consume r-q", (ch) => ch.consume("r-q", () => {}), "ok"],
      ["basic.consume missing", (ch) => ch.consume("missing", () => {}), refused("queue", "missing")],
      [
        "basic.consume direct reply-to",
        (ch) => ch.consume("amq.rabbitmq.reply-to", () => {}, { noAck: true }),
        "ok",
      ],
      ["basic.get x", (ch) => ch.get("x"), refused("queue", "x")],
      ["basic.get r-q", (ch) => ch.get("r-q"), "ok"],
      ["basic.get missing", (ch) => ch.get("missing"), refused("queue", "missing")],
    ]);
  },
);

accessTest("a server-named queue is checked under its amq.gen- name", async (ctx, admin) => {
  const { conn, vhost, user } = await setup(ctx, admin, { configure: "^c-", write: "", read: "" });
  const r = await outcome(conn, (ch) => ch.assertQueue(""));
  assert.notEqual(r, "ok");
  assert.equal((r as CloseReason).code, 403);
  assert.match(
    (r as CloseReason).text,
    new RegExp(
      `^ACCESS_REFUSED - access to queue 'amq\\.gen-[A-Za-z0-9_-]{22}' in vhost '${vhost}' refused for user '${user}'$`,
    ),
  );

  const allowed = await setup(ctx, admin, {
    configure: "^amq\\.gen-",
    write: "^amq\\.default$",
    read: "^amq\\.gen-",
  });
  const ch = await allowed.conn.createChannel();
  const { queue } = await ch.assertQueue("", { exclusive: true });
  assert.match(queue, /^amq\.gen-/);
  // The default exchange is written to as amq.default.
  ch.publish("", queue, body());
  let got;
  for (let i = 0; i < 100 && !got; i++) got = await ch.get(queue, { noAck: true });
  assert.ok(got && got.content.toString() === "m");
  await ch.close();
});

accessTest(
  "dead-letter and alternate exchanges: read on the new object, write on the one it names",
  async (ctx, admin) => {
    const { conn, vhost, refused } = await setup(
      ctx,
      admin,
      { configure: "^(c|cr)-", write: "^w-", read: "^cr-" },
      { queues: ["cr-q"], exchanges: ["x", "w-e", "cr-e"] },
    );
    await table(conn, [
      [
        "queue cr-1 DLX x",
        (ch) => ch.assertQueue("cr-1", { deadLetterExchange: "x" }),
        refused("exchange", "x"),
      ],
      ["queue cr-2 DLX w-e", (ch) => ch.assertQueue("cr-2", { deadLetterExchange: "w-e" }), "ok"],
      [
        "queue cr-3 DLX default",
        (ch) => ch.assertQueue("cr-3", { deadLetterExchange: "" }),
        refused("exchange", "amq.default"),
      ],
      ["queue cr-4 DLX w-missing", (ch) => ch.assertQueue("cr-4", { deadLetterExchange: "w-missing" }), "ok"],
      [
        "queue c-5 DLX w-e (no read)",
        (ch) => ch.assertQueue("c-5", { deadLetterExchange: "w-e" }),
        refused("queue", "c-5"),
      ],
      ["queue c-6 no DLX", (ch) => ch.assertQueue("c-6"), "ok"],
      [
        "exchange cr-ae1 AE x",
        (ch) => ch.assertExchange("cr-ae1", "direct", { alternateExchange: "x" }),
        refused("exchange", "x"),
      ],
      [
        "exchange cr-ae2 AE w-e",
        (ch) => ch.assertExchange("cr-ae2", "direct", { alternateExchange: "w-e" }),
        "ok",
      ],
      [
        "exchange c-ae3 AE w-e (no read)",
        (ch) => ch.assertExchange("c-ae3", "direct", { alternateExchange: "w-e" }),
        refused("exchange", "c-ae3"),
      ],
      [
        "exchange cr-e (existing) AE x",
        (ch) => ch.assertExchange("cr-e", "direct", { alternateExchange: "x" }),
        {
          code: 406,
          text:
            `PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'cr-e' in vhost '${vhost}': ` +
            "received the value 'x' of type 'longstr' but current is none",
        },
      ],
    ]);
  },
);

accessTest("empty patterns: the user may open the vhost but do nothing in it", async (ctx, admin) => {
  const { conn, refused } = await setup(ctx, admin, { configure: "", write: "", read: "" }, {
    queues: ["q"],
  });
  await table(conn, [
    ["queue.declare q", (ch) => ch.assertQueue("q"), refused("queue", "q")],
    ["basic.get q", (ch) => ch.get("q"), refused("queue", "q")],
    ["basic.publish default", (ch) => pub(ch, "", "q", body()), refused("exchange", "amq.default")],
    ["queue.declare passive q", (ch) => ch.checkQueue("q"), "ok"],
  ]);
});

/** Opens a connection with the raw client and returns connection.open's answer. */
async function openVHost(ctx: TestCtx, user: string, password: string, vhost: string) {
  const w = await W.Wire.connect(ctx.broker.host, ctx.broker.port);
  try {
    await W.handshake(w, { user, password, skipOpen: true });
    await w.send(W.connectionOpenFrame(vhost));
    const m = await w.readMethod();
    if (m.classId === 10 && m.methodId === 41) return "open-ok";
    return {
      code: m.args.short(),
      text: m.args.shortstr(),
      classId: m.args.short(),
      methodId: m.args.short(),
    };
  } finally {
    await w.close();
  }
}

accessTest(
  "connection.open: a vhost without a permission entry for the user is refused with 530",
  async (ctx, admin) => {
    const vhost = unique("perm-vhost");
    const user = unique("perm-user");
    await admin.addVHost(vhost);
    await admin.addUser(user, "pw");
    assert.deepEqual(await openVHost(ctx, user, "pw", vhost), {
      code: 530,
      text: `NOT_ALLOWED - access to vhost '${vhost}' refused for user '${user}'`,
      classId: 10,
      methodId: 40,
    });
    assert.deepEqual(await openVHost(ctx, user, "pw", "no-such-vhost"), {
      code: 530,
      text: "NOT_ALLOWED - vhost no-such-vhost not found",
      classId: 10,
      methodId: 40,
    });
    await admin.setPermissions(user, vhost, FULL);
    assert.equal(await openVHost(ctx, user, "pw", vhost), "open-ok");
    // A permission on another vhost does not open this one.
    assert.equal((await openVHost(ctx, user, "pw", "/") as { code: number }).code, 530);
  },
);

accessTest("a user's wrong password is refused at login with 403", async (_ctx, admin) => {
  const user = unique("perm-user");
  await admin.addUser(user, "right");
  await admin.setPermissions(user, "/", FULL);
  const err = await amqplib.connect(admin.url(user, "wrong", "/")).then((c) => c.close(), (e: unknown) => e);
  assert.deepEqual(closeReason(err), {
    code: 403,
    text:
      "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.",
  });
  const ok = await amqplib.connect(admin.url(user, "right", "/"));
  await ok.close();
});

accessTest("deleting a vhost closes its connections with 320 and removes its objects", async (ctx, admin) => {
  const vhost = unique("perm-vhost");
  await admin.addVHost(vhost);
  const w = await W.connectOpen(ctx.broker.host, ctx.broker.port, { vhost, channel: 1 });
  ctx.defer(() => w.close());
  const other = await W.connectOpen(ctx.broker.host, ctx.broker.port, { vhost: "/", channel: 1 });
  ctx.defer(() => other.close());
  const conn = await connectAs(ctx, admin.url("guest", "guest", vhost));
  const ch = await conn.createChannel();
  await ch.assertQueue("kept-until-deleted");
  await conn.close();

  await admin.deleteVHost(vhost);
  const c = await w.expectClose(5000);
  assert.deepEqual(c, {
    kind: "connection",
    channel: 0,
    replyCode: 320,
    replyText: `CONNECTION_FORCED - vhost '${vhost}' is deleted`,
    classId: 0,
    methodId: 0,
  });
  // Connections to other vhosts carry on.
  await W.openChannel(other, 2);
  assert.equal((await openVHost(ctx, "guest", "guest", vhost) as { code: number }).code, 530);

  // Created again, it is empty.
  await admin.addVHost(vhost);
  const again = await connectAs(ctx, admin.url("guest", "guest", vhost));
  const r = await outcome(again, (ch) => ch.checkQueue("kept-until-deleted"));
  assert.deepEqual(r, { code: 404, text: `NOT_FOUND - no queue 'kept-until-deleted' in vhost '${vhost}'` });
});

accessTest("deleting a user closes its connections with 320", async (ctx, admin) => {
  const user = unique("perm-user");
  await admin.addUser(user, "pw");
  await admin.setPermissions(user, "/", FULL);
  const w = await W.connectOpen(ctx.broker.host, ctx.broker.port, { user, password: "pw", channel: 1 });
  ctx.defer(() => w.close());
  await admin.deleteUser(user);
  const c = await w.expectClose(5000);
  assert.equal(c.replyCode, 320);
  assert.equal(c.replyText, `CONNECTION_FORCED - user '${user}' is deleted`);
});

accessTest("a changed permission applies to new channels", async (ctx, admin) => {
  const { conn, vhost, user, refused } = await setup(ctx, admin, FULL, { queues: ["q"] });
  assert.equal(await outcome(conn, (ch) => pub(ch, "", "q", body())), "ok");
  await admin.setPermissions(user, vhost, { configure: ".*", write: "^$", read: ".*" });
  assert.deepEqual(
    await outcome(conn, (ch) => pub(ch, "", "q", body())),
    refused("exchange", "amq.default"),
  );
  await admin.clearPermissions(user, vhost);
  assert.deepEqual(await outcome(conn, (ch) => ch.get("q")), refused("queue", "q"));
});

accessTest(
  "a revoked permission applies at once, on open channels too",
  async (ctx, admin) => {
    const { conn, vhost, user, refused } = await setup(ctx, admin, FULL, { queues: ["q"] });
    const w = await watchedChannel(conn);
    w.ch.publish("", "q", body());
    await w.ch.checkQueue("q");
    await admin.setPermissions(user, vhost, { configure: ".*", write: "^$", read: ".*" });
    w.ch.publish("", "q", body());
    assert.deepEqual(await w.waitClosed(), refused("exchange", "amq.default"));
  },
  {
    ignore: isExternal
      ? "RabbitMQ caches a channel's last permission checks and never drops them"
      : undefined,
  },
);

accessTest("the impersonator tag allows any user_id", async (ctx, admin) => {
  const vhost = unique("perm-vhost");
  const user = unique("perm-user");
  await admin.addVHost(vhost);
  await admin.addUser(user, "pw", ["impersonator"]);
  await admin.setPermissions(user, vhost, FULL);
  const conn = await connectAs(ctx, admin.url(user, "pw", vhost));
  assert.equal(
    await outcome(conn, (ch) => pub(ch, "amq.direct", "k", body(), { userId: "someone" })),
    "ok",
  );
});
