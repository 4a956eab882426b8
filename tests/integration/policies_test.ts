// Policies as clients and operators see them: set, changed and cleared over the management API
// (PUT/DELETE /api/policies/:vhost/:name) and applied at once to existing queues and exchanges, as
// seen over AMQP with amqplib. Expected values are RabbitMQ 3.10's (reference run:
// WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5682/ deno test -A tests/integration/policies_test.ts;
// its management API is taken at the AMQP port + 10000, or WARREN_TEST_HTTP_URL). RabbitMQ applies a
// policy asynchronously and its management stats lag by seconds, so every check polls with waitFor.
//
// Restart and definitions tests need Warren in this process and are ignored against another broker.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createBroker, type RunningBroker } from "../../server/mod.ts";
import { exportDefinitions, importDefinitions } from "../../server/definitions.ts";
import { Broker } from "../../core/mod.ts";
import { DEFAULT_PLUGINS } from "../../plugins/mod.ts";
import { isExternal, uniqueName, waitFor } from "./_broker.ts";
import { amqplib } from "./_deps.ts";
import { httpTest } from "./_http.ts";
import type { AmqplibConnection, Channel, ConfirmChannel, GetMessage } from "./_deps.ts";

interface Reply {
  status: number;
  json: unknown;
}

interface Ctx {
  http(method: string, path: string, body?: unknown): Promise<Reply>;
  conn: AmqplibConnection;
  /** Confirm channel: declares and publishes (each publish awaits its confirm). */
  pub: ConfirmChannel;
  /** Plain channel: gets and rejects. */
  ch: Channel;
  /** Registers a cleanup, run in reverse order. */
  defer(fn: () => unknown): void;
  running?: RunningBroker;
}

const EXTERNAL_URL = Deno.env.get("WARREN_TEST_URL");

function externalHttp(): string {
  const given = Deno.env.get("WARREN_TEST_HTTP_URL");
  if (given) return given.replace(/\/$/, "");
  const u = new URL(EXTERNAL_URL!);
  return `http://${u.hostname}:${Number(u.port || 5672) + 10000}`;
}

/** A test with a broker (Warren in-process, or the WARREN_TEST_URL one), guest over AMQP and HTTP. */
function policyTest(name: string, fn: (ctx: Ctx) => Promise<void>): void {
  Deno.test({
    name,
    async fn() {
      let running: RunningBroker | undefined;
      let amqpUrl: string;
      let base: string;
      if (isExternal) {
        amqpUrl = EXTERNAL_URL!;
        base = externalHttp();
      } else {
        running = await createBroker({ port: 0, host: "127.0.0.1", httpPort: 0, logLevel: "none" });
        amqpUrl = `amqp://guest:guest@127.0.0.1:${running.port}/`;
        base = `http://127.0.0.1:${running.httpPort}`;
      }
      const cleanups: (() => unknown)[] = [];
      const conn = await amqplib.connect(amqpUrl);
      conn.on("error", () => {});
      try {
        const ctx: Ctx = {
          conn,
          pub: await conn.createConfirmChannel(),
          ch: await conn.createChannel(),
          defer: (f) => cleanups.push(f),
          running,
          async http(method, path, body) {
            const res = await fetch(base + path, {
              method,
              headers: { authorization: `Basic ${btoa("guest:guest")}`, "content-type": "application/json" },
              body: body === undefined ? undefined : JSON.stringify(body),
            });
            const text = await res.text();
            return { status: res.status, json: text === "" ? null : JSON.parse(text) };
          },
        };
        await fn(ctx);
      } finally {
        for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
        await conn.close().catch(() => {});
        await running?.close();
      }
    },
  });
}

/** Sets a policy (201 when new), cleared when the test ends. */
async function setPolicy(ctx: Ctx, name: string, body: Record<string, unknown>): Promise<number> {
  const r = await ctx.http("PUT", `/api/policies/%2F/${encodeURIComponent(name)}`, body);
  assert.ok(
    r.status === 201 || r.status === 204,
    `PUT policy ${name}: ${r.status} ${JSON.stringify(r.json)}`,
  );
  ctx.defer(() => ctx.http("DELETE", `/api/policies/%2F/${encodeURIComponent(name)}`));
  return r.status;
}

async function clearPolicy(ctx: Ctx, name: string): Promise<void> {
  assert.equal((await ctx.http("DELETE", `/api/policies/%2F/${encodeURIComponent(name)}`)).status, 204);
}

/** A non-exclusive queue (policies match it like any other), deleted when the test ends. */
async function queue(ctx: Ctx, args: Record<string, unknown> = {}, prefix = "pq"): Promise<string> {
  const name = uniqueName(prefix);
  await ctx.pub.assertQueue(name, { durable: false, arguments: args });
  ctx.defer(async () => {
    const ch = await ctx.conn.createChannel();
    await ch.deleteQueue(name);
    await ch.close();
  });
  return name;
}

async function exchange(ctx: Ctx, type: string, args: Record<string, unknown> = {}): Promise<string> {
  const name = uniqueName("px");
  await ctx.pub.assertExchange(name, type, { durable: false, arguments: args });
  ctx.defer(async () => {
    const ch = await ctx.conn.createChannel();
    await ch.deleteExchange(name);
    await ch.close();
  });
  return name;
}

/** Publishes and waits for the confirm; true for an ack, false for a nack. */
function publish(ctx: Ctx, exchange: string, key: string, body: string, options = {}): Promise<boolean> {
  return new Promise((resolve) => {
    ctx.pub.publish(exchange, key, Buffer.from(body), options, (err) => resolve(err == null));
  });
}

async function count(ctx: Ctx, q: string): Promise<number> {
  return (await ctx.pub.checkQueue(q)).messageCount;
}

async function getAll(ctx: Ctx, q: string): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (;;) {
    const m = await ctx.ch.get(q, { noAck: true });
    if (m === false) return out;
    out.push(m);
  }
}

const bodies = (ms: GetMessage[]) => ms.map((m) => m.content.toString());

const WAIT = { timeout: 10_000, interval: 25 };

/**
 * Waits until the management API shows the queue's policy (`null`: none). RabbitMQ's queue
 * reports it after applying it, with its stats (every 5 s); Warren at once.
 */
async function waitForPolicy(ctx: Ctx, q: string, policy: string | null): Promise<void> {
  await waitFor(async () => {
    const r = await ctx.http("GET", `/api/queues/%2F/${encodeURIComponent(q)}`);
    return (r.json as { policy: unknown }).policy === policy;
  }, WAIT);
}

// ---------------------------------------------------------------------------------------------------------

policyTest(
  "policies: message-ttl set on an existing queue expires what is published from then on",
  async (ctx) => {
    const q = await queue(ctx);
    assert.ok(await publish(ctx, "", q, "before"));
    const p = uniqueName("ttl");
    assert.equal(await setPolicy(ctx, p, { pattern: `^${q}$`, definition: { "message-ttl": 300 } }), 201);
    await waitForPolicy(ctx, q, p);
    assert.ok(await publish(ctx, "", q, "after 1"));
    assert.ok(await publish(ctx, "", q, "after 2"));
    // TTL is the point here: wait past it. (RabbitMQ drops expired messages only at the head, so
    // the count would not tell; what a client can get tells.)
    await new Promise((r) => setTimeout(r, 700));
    // The message enqueued before the policy keeps no TTL, as in RabbitMQ.
    assert.deepEqual(bodies(await getAll(ctx, q)), ["before"]);

    // Cleared: messages stay again.
    await clearPolicy(ctx, p);
    await waitForPolicy(ctx, q, null);
    assert.ok(await publish(ctx, "", q, "kept"));
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(bodies(await getAll(ctx, q)), ["kept"]);
  },
);

policyTest(
  "policies: max-length applied live trims the queue from the head, dead-lettering as maxlen",
  async (ctx) => {
    const dlq = await queue(ctx, {}, "pdlq");
    const q = await queue(ctx, { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq });
    for (let i = 0; i < 10; i++) assert.ok(await publish(ctx, "", q, `m${i}`));
    const p = uniqueName("len");
    await setPolicy(ctx, p, { pattern: `^${q}$`, definition: { "max-length": 3 }, "apply-to": "queues" });
    await waitFor(async () => await count(ctx, q) === 3, WAIT);
    await waitFor(async () => await count(ctx, dlq) === 7, WAIT);
    const dead = await getAll(ctx, dlq);
    assert.deepEqual(bodies(dead), ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);
    const death = (dead[0].properties.headers!["x-death"]!)[0];
    assert.equal(death.reason, "maxlen");
    assert.equal(death.queue, q);
    // The limit holds for new messages.
    assert.ok(await publish(ctx, "", q, "m10"));
    await waitFor(async () => await count(ctx, q) === 3, WAIT);
    assert.deepEqual(bodies(await getAll(ctx, q)), ["m8", "m9", "m10"]);

    // Cleared: no limit any more.
    await clearPolicy(ctx, p);
    await waitFor(async () => {
      const r = await ctx.http("GET", `/api/queues/%2F/${q}`);
      return (r.json as { policy: unknown }).policy === null;
    }, WAIT);
    for (let i = 0; i < 5; i++) assert.ok(await publish(ctx, "", q, `n${i}`));
    assert.equal(await count(ctx, q), 5);
  },
);

policyTest(
  "policies: a dead-letter-exchange policy dead-letters rejected messages; the argument wins",
  async (ctx) => {
    const dlx = await exchange(ctx, "direct");
    const dlq = await queue(ctx, {}, "pdlq");
    await ctx.pub.bindQueue(dlq, dlx, "dl");
    const dlxArg = await exchange(ctx, "fanout");
    const dlqArg = await queue(ctx, {}, "pdlq");
    await ctx.pub.bindQueue(dlqArg, dlxArg, "");
    const prefix = uniqueName("pdl");
    const q = await queue(ctx, {}, prefix);
    const qArg = await queue(ctx, { "x-dead-letter-exchange": dlxArg }, prefix);
    await setPolicy(ctx, uniqueName("dlx"), {
      pattern: `^${prefix}`,
      definition: { "dead-letter-exchange": dlx, "dead-letter-routing-key": "dl" },
      "apply-to": "queues",
    });
    await waitFor(async () => {
      const r = await ctx.http("GET", `/api/queues/%2F/${q}`);
      return (r.json as { policy: unknown }).policy !== null;
    }, WAIT);

    assert.ok(await publish(ctx, "", q, "one"));
    const m = await ctx.ch.get(q, { noAck: false });
    assert.ok(m !== false);
    ctx.ch.nack(m, false, false);
    await waitFor(async () => await count(ctx, dlq) === 1, WAIT);
    const [dead] = await getAll(ctx, dlq);
    assert.equal(dead.content.toString(), "one");
    assert.equal(dead.fields.routingKey, "dl");
    const death = (dead.properties.headers!["x-death"]!)[0];
    assert.equal(death.reason, "rejected");
    assert.equal(death.queue, q);

    // The queue's own x-dead-letter-exchange wins over the policy's.
    assert.ok(await publish(ctx, "", qArg, "two"));
    const m2 = await ctx.ch.get(qArg, { noAck: false });
    assert.ok(m2 !== false);
    ctx.ch.reject(m2, false);
    await waitFor(async () => await count(ctx, dlqArg) === 1, WAIT);
    assert.equal(await count(ctx, dlq), 0);
  },
);

policyTest(
  "policies: an alternate-exchange policy catches unroutable messages; cleared, they are returned",
  async (ctx) => {
    const prefix = uniqueName("pae");
    const src = `${prefix}-src`;
    await ctx.pub.assertExchange(src, "direct", { durable: false });
    ctx.defer(async () => {
      const ch = await ctx.conn.createChannel();
      await ch.deleteExchange(src);
      await ch.close();
    });
    const ae = await exchange(ctx, "fanout");
    const aq = await queue(ctx);
    await ctx.pub.bindQueue(aq, ae, "");
    const returned: string[] = [];
    ctx.pub.on("return", (m: { content: Buffer }) => returned.push(m.content.toString()));

    const p = uniqueName("ae");
    await setPolicy(ctx, p, {
      pattern: `^${prefix}-src$`,
      definition: { "alternate-exchange": ae },
      "apply-to": "exchanges",
    });
    await waitFor(async () => {
      assert.ok(await publish(ctx, src, "nowhere", "probe", { mandatory: true }));
      return await count(ctx, aq) > 0;
    }, WAIT);
    await getAll(ctx, aq);
    returned.length = 0;
    assert.ok(await publish(ctx, src, "nowhere", "caught", { mandatory: true }));
    await waitFor(async () => await count(ctx, aq) === 1, WAIT);
    assert.deepEqual(returned, []);
    const ex = (await ctx.http("GET", `/api/exchanges/%2F/${src}`)).json as { policy?: string };
    assert.equal(ex.policy, p);

    await clearPolicy(ctx, p);
    await waitFor(async () => {
      assert.ok(await publish(ctx, src, "nowhere", "lost", { mandatory: true }));
      return returned.length > 0;
    }, WAIT);
    assert.equal(returned[returned.length - 1], "lost");
    const after = (await ctx.http("GET", `/api/exchanges/%2F/${src}`)).json as Record<string, unknown>;
    assert.equal("policy" in after, false); // RabbitMQ shows no `policy` on an exchange without one
  },
);

policyTest(
  "policies: the lower of queue argument and policy wins for limits and TTL, the argument for overflow",
  async (ctx) => {
    const prefix = uniqueName("pprec");
    const argHigher = await queue(ctx, { "x-max-length": 5 }, prefix);
    const argLower = await queue(ctx, { "x-max-length": 1 }, prefix);
    const rejecting = await queue(ctx, { "x-overflow": "reject-publish" }, prefix);
    const ttlArg = await queue(ctx, { "x-message-ttl": 60_000 }, prefix);
    await setPolicy(ctx, uniqueName("prec"), {
      pattern: `^${prefix}`,
      definition: { "max-length": 2, "message-ttl": 200, overflow: "drop-head" },
    });
    await waitFor(async () => {
      const r = await ctx.http("GET", `/api/queues/%2F/${rejecting}`);
      return (r.json as { policy: unknown }).policy !== null;
    }, WAIT);
    // Give RabbitMQ's queue processes time to take the policy (its API shows it first).
    await waitFor(async () => {
      assert.ok(await publish(ctx, "", ttlArg, "probe"));
      await new Promise((r) => setTimeout(r, 300));
      return await count(ctx, ttlArg) === 0;
    }, WAIT);

    for (let i = 0; i < 4; i++) {
      assert.ok(await publish(ctx, "", argHigher, `h${i}`));
      assert.ok(await publish(ctx, "", argLower, `l${i}`));
    }
    assert.equal(await count(ctx, argHigher), 2);
    assert.equal(await count(ctx, argLower), 1);
    // x-overflow reject-publish wins over the policy's drop-head: the third publish is nacked.
    assert.equal(await publish(ctx, "", rejecting, "r0"), true);
    assert.equal(await publish(ctx, "", rejecting, "r1"), true);
    assert.equal(await publish(ctx, "", rejecting, "r2"), false);
    assert.deepEqual(bodies(await getAll(ctx, rejecting)), ["r0", "r1"]);
    // x-message-ttl 60000 vs policy 200: 200.
    assert.ok(await publish(ctx, "", ttlArg, "t"));
    await waitFor(async () => await count(ctx, ttlArg) === 0, WAIT);
  },
);

policyTest("policies: the management API answers as RabbitMQ 3.10", async (ctx) => {
  const q = await queue(ctx);
  const name = uniqueName("api");
  const path = `/api/policies/%2F/${name}`;
  const body = { pattern: `^${q}$`, definition: { "max-length": 10, "message-ttl": 5000 }, priority: 3 };
  assert.equal((await ctx.http("PUT", path, body)).status, 201);
  ctx.defer(() => ctx.http("DELETE", path));
  assert.equal((await ctx.http("PUT", path, body)).status, 204);
  const expected = {
    vhost: "/",
    name,
    pattern: `^${q}$`,
    "apply-to": "all",
    definition: { "max-length": 10, "message-ttl": 5000 },
    priority: 3,
  };
  assert.deepEqual((await ctx.http("GET", path)).json, expected);
  const listed = (await ctx.http("GET", "/api/policies/%2F")).json as { name: string }[];
  assert.deepEqual(listed.find((p) => p.name === name), expected);
  assert.ok(
    ((await ctx.http("GET", "/api/policies")).json as { name: string }[]).some((p) => p.name === name),
  );

  await waitFor(async () => {
    const r = (await ctx.http("GET", `/api/queues/%2F/${q}`)).json as Record<string, unknown>;
    return r.policy === name;
  }, WAIT);
  const row = (await ctx.http("GET", `/api/queues/%2F/${q}`)).json as Record<string, unknown>;
  assert.deepEqual(row.effective_policy_definition, { "max-length": 10, "message-ttl": 5000 });
  assert.equal(row.operator_policy, null);

  // Errors, with RabbitMQ's bodies (its API escapes the < and > of Erlang binaries).
  const bad = (definition: unknown, extra = {}) =>
    ctx.http("PUT", `/api/policies/%2F/${name}-bad`, { pattern: "^x", definition, ...extra });
  assert.deepEqual((await bad({ "message-ttl": "x" })).json, {
    error: "bad_request",
    reason: 'Validation failed\n\n&lt;&lt;"x"&gt;&gt; is not a valid message TTL\n',
  });
  assert.deepEqual((await bad({ "max-length": -1 })).json, {
    error: "bad_request",
    reason: "Validation failed\n\n-1 is not a valid maximum length\n",
  });
  const unknown = await bad({ "no-such-key": 1 });
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.json, {
    error: "bad_request",
    reason: 'Validation failed\n\n[{&lt;&lt;"no-such-key"&gt;&gt;,1}] are not recognised policy settings\n',
  });
  assert.equal(
    ((await bad({ "max-length": 1 }, { "apply-to": "bogus" })).json as { reason: string }).reason,
    "Validation failed\n\napply-to 'bogus' unrecognised; should be 'queues', 'exchanges' or 'all'\n",
  );
  assert.deepEqual((await ctx.http("PUT", `/api/policies/%2F/${name}-bad`, { definition: {} })).json, {
    error: "bad_request",
    reason: "[{key_missing,pattern}]",
  });
  assert.deepEqual((await ctx.http("PUT", `/api/policies/%2F/${name}-bad`, { pattern: "x" })).json, {
    error: "bad_request",
    reason: "[{key_missing,definition}]",
  });
  assert.equal((await ctx.http("GET", `/api/policies/%2F/${name}-bad`)).status, 404);
  const noVhost = await ctx.http("PUT", `/api/policies/no-such-vhost/${name}`, body);
  assert.equal(noVhost.status, 404);
  assert.deepEqual(noVhost.json, { error: "not_found", reason: "vhost_not_found" });
  assert.equal((await ctx.http("GET", "/api/policies/no-such-vhost")).status, 404);

  assert.equal((await ctx.http("DELETE", path)).status, 204);
  assert.equal((await ctx.http("DELETE", path)).status, 404);
  assert.equal((await ctx.http("GET", path)).status, 404);
});

// ---------------------------------------------------------------------------------------------------------
// Warren only: restart and definitions.

Deno.test({
  name: "policies: persisted with the definitions and applied again after a restart",
  ignore: isExternal,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "warren-policies-" });
    try {
      const first = await createBroker({ port: 0, host: "127.0.0.1", logLevel: "none", dataDir: dir });
      const v = first.broker.vhosts.get("/")!;
      v.declareQueue({
        name: "jobs",
        passive: false,
        durable: true,
        exclusive: false,
        autoDelete: false,
        args: {},
        owner: null,
      });
      first.broker.setPolicy("/", "jobs-ttl", {
        pattern: "^jobs$",
        definition: { "message-ttl": 1234, "max-length": 7, "dead-letter-exchange": "dlx" },
        priority: 2,
        "apply-to": "queues",
      });
      first.broker.setPolicy("/", "gone", { pattern: "^x", definition: { expires: 1000 } });
      first.broker.clearPolicy("/", "gone");
      await first.close();

      const second = await createBroker({ port: 0, host: "127.0.0.1", logLevel: "none", dataDir: dir });
      try {
        const [p, ...rest] = second.broker.policies();
        assert.deepEqual(rest, []);
        assert.equal(p.name, "jobs-ttl");
        assert.equal(p.priority, 2);
        assert.equal(p.applyTo, "queues");
        assert.deepEqual(p.definition, {
          "dead-letter-exchange": "dlx",
          "max-length": 7,
          "message-ttl": 1234,
        });
        const q = second.broker.vhosts.get("/")!.queues.get("jobs")!;
        assert.equal(q.policy?.name, "jobs-ttl");
        assert.equal(q.messageTtl, 1234);
        assert.equal(q.limits.maxLength, 7);
        assert.equal(q.effectiveArg("x-dead-letter-exchange", "dead-letter-exchange"), "dlx");
      } finally {
        await second.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "policies: definitions export and import them in RabbitMQ's format",
  ignore: isExternal,
  fn() {
    const make = () => {
      const b = new Broker();
      for (const p of DEFAULT_PLUGINS) b.register(p);
      b.addVHost("/");
      return b;
    };
    const a = make();
    a.addVHost("other");
    a.setPolicy("other", "ae", {
      pattern: "^in$",
      definition: { "alternate-exchange": "lost" },
      "apply-to": "exchanges",
      priority: 1,
    });
    const defs = exportDefinitions(a);
    assert.deepEqual(defs.policies, [{
      vhost: "other",
      name: "ae",
      pattern: "^in$",
      "apply-to": "exchanges",
      definition: { "alternate-exchange": "lost" },
      priority: 1,
    }]);
    const b = make();
    importDefinitions(b, JSON.parse(JSON.stringify(defs)));
    assert.deepEqual(exportDefinitions(b).policies, defs.policies);
    // An exchange declared by the same import gets its policy.
    importDefinitions(b, {
      exchanges: [{
        name: "in",
        vhost: "other",
        type: "direct",
        durable: true,
        auto_delete: false,
        internal: false,
        arguments: {},
      }],
    });
    assert.equal(b.vhosts.get("other")!.exchanges.get("in")!.policy?.name, "ae");
    // A bad policy is refused with RabbitMQ's text, naming it.
    assert.throws(
      () =>
        importDefinitions(b, {
          policies: [{
            vhost: "/",
            name: "bad",
            pattern: ".*",
            "apply-to": "all",
            definition: { "message-ttl": -1 },
            priority: 0,
          }],
        }),
      /policy 'bad' in vhost '\/': -1 is not a valid message TTL/,
    );
  },
});

httpTest("policies: who may list, read, set and clear them (RabbitMQ 3.10's tags)", async (b) => {
  assert.equal(
    (await b.req("PUT", "/api/users/pm", { body: { password: "pm-pw", tags: "policymaker" } })).status,
    201,
  );
  await b.req("PUT", "/api/permissions/%2F/pm", { body: { configure: ".*", write: ".*", read: ".*" } });
  const as = (user: string, method: string, path: string, body?: unknown) =>
    fetch(b.base + path, {
      method,
      headers: { authorization: `Basic ${btoa(user)}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, json: await r.json().catch(() => null) }));
  const body = { pattern: "^q", definition: { "max-length": 1 } };
  assert.equal((await as("pm:pm-pw", "PUT", "/api/policies/%2F/p1", body)).status, 201);
  assert.equal((await as("pm:pm-pw", "GET", "/api/policies/%2F/p1")).status, 200);
  // A management user lists the policies of its vhosts, but may not read, set or clear one.
  assert.equal(((await as("mgmt:mgmt-pw", "GET", "/api/policies")).json as unknown[]).length, 1);
  assert.equal(((await as("mgmt:mgmt-pw", "GET", "/api/policies/%2F")).json as unknown[]).length, 1);
  for (const [method, payload] of [["GET"], ["PUT", body], ["DELETE"]] as const) {
    assert.deepEqual(await as("mgmt:mgmt-pw", method, "/api/policies/%2F/p1", payload), {
      status: 401,
      json: { error: "not_authorised", reason: "User not authorised to access object" },
    });
  }
  // A monitor without a permission in a vhost sees none of its policies.
  assert.equal((await b.req("PUT", "/api/vhosts/other")).status, 201);
  assert.equal((await b.req("PUT", "/api/policies/other/p2", { body })).status, 201);
  const names = (r: { json: unknown }) => (r.json as { name: string }[]).map((p) => p.name);
  assert.deepEqual(names(await b.req("GET", "/api/policies")), ["p1", "p2"]);
  assert.deepEqual(names(await as("mon:mon-pw", "GET", "/api/policies")), ["p1"]);
  assert.deepEqual(await as("mon:mon-pw", "GET", "/api/policies/other"), {
    status: 401,
    json: { error: "not_authorised", reason: "User not authorised to access virtual host" },
  });
  assert.equal((await as("pm:pm-pw", "PUT", "/api/policies/other/p3", body)).status, 401);
  assert.equal((await as("pm:pm-pw", "DELETE", "/api/policies/%2F/p1")).status, 204);
});

httpTest("policies: in a vhost's definitions (GET and POST /api/definitions/:vhost)", async (b) => {
  const body = { pattern: "^q", definition: { "max-length": 1 }, "apply-to": "queues", priority: 4 };
  assert.equal((await b.req("PUT", "/api/policies/%2F/p", { body })).status, 201);
  const defs = (await b.req("GET", "/api/definitions/%2F")).json as { policies: unknown[] };
  assert.deepEqual(defs.policies, [{ vhost: "/", name: "p", ...body }]);
  assert.equal((await b.req("PUT", "/api/vhosts/other")).status, 201);
  assert.equal((await b.req("POST", "/api/definitions/other", { body: defs })).status, 204);
  assert.deepEqual((await b.req("GET", "/api/policies/other/p")).json, {
    vhost: "other",
    name: "p",
    ...body,
  });
});
