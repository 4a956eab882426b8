import assert from "node:assert/strict";
import { EMPTY_TABLE, type FieldTable } from "../wire/field_table.ts";
import { Broker } from "./broker.ts";
import { Message } from "./message.ts";
import {
  CORE_POLICY_KEYS,
  erlangTerm,
  matchPolicy,
  type Policy,
  PolicyError,
  type PolicyInput,
  type PolicyKey,
  validatePolicy,
} from "./policies.ts";
import type { BindableRouter, Binding, ExchangeTypePlugin, StagePlugin } from "./router.ts";

const KEYS = new Map<string, PolicyKey>(CORE_POLICY_KEYS.map((k) => [k.name, k]));

function policy(name: string, input: PolicyInput): Policy {
  return validatePolicy("/", name, input, KEYS);
}

/** The problem line of a refused policy (RabbitMQ's text without "Validation failed"). */
function refused(input: PolicyInput, keys = KEYS): string {
  try {
    validatePolicy("/", "p", input, keys);
  } catch (err) {
    assert.ok(err instanceof PolicyError);
    assert.equal(err.reason, `Validation failed\n\n${err.problem}\n`);
    return err.problem;
  }
  throw new Error("policy was accepted");
}

Deno.test("matchPolicy() picks the highest priority among matching policies of the object's kind", () => {
  const low = policy("low", { pattern: "^jobs", definition: { "max-length": 1 } });
  const high = policy("high", { pattern: "^jobs\\.", definition: { "max-length": 2 }, priority: 5 });
  const exchangesOnly = policy("ex", {
    pattern: ".*",
    definition: { "message-ttl": 1 },
    priority: 10,
    "apply-to": "exchanges",
  });
  const all = [low, high, exchangesOnly];
  assert.equal(matchPolicy(all, "queues", "jobs.email"), high);
  assert.equal(matchPolicy(all, "queues", "jobsx"), low);
  assert.equal(matchPolicy(all, "queues", "other"), null);
  assert.equal(matchPolicy(all, "exchanges", "jobs.email"), exchangesOnly);
  // The pattern is unanchored, as RabbitMQ's re:run.
  const unanchored = policy("u", { pattern: "jobs", definition: { "max-length": 1 } });
  assert.equal(matchPolicy([unanchored], "queues", "x.jobs.y"), unanchored);
  // Equal priorities: the first by name.
  const b = policy("b", { pattern: "q", definition: { "max-length": 1 } });
  const a = policy("a", { pattern: "q", definition: { "max-length": 1 } });
  assert.equal(matchPolicy([b, a], "queues", "q"), a);
});

Deno.test("validatePolicy() defaults and keeps the definition's keys sorted", () => {
  const p = policy("p", { pattern: "^q", definition: { "message-ttl": 5, "max-length": 1 } });
  assert.equal(p.priority, 0);
  assert.equal(p.applyTo, "all");
  assert.deepEqual(Object.keys(p.definition), ["max-length", "message-ttl"]);
});

Deno.test("validatePolicy() refuses with RabbitMQ 3.10's texts", () => {
  // Each text was checked against RabbitMQ 3.10.8 (PUT /api/policies/%2F/name).
  const d = (definition: unknown) => ({ pattern: "^q", definition });
  assert.equal(refused(d({ "message-ttl": -1 })), "-1 is not a valid message TTL");
  assert.equal(refused(d({ "message-ttl": "x" })), '<<"x">> is not a valid message TTL');
  assert.equal(refused(d({ "message-ttl": 1.5 })), "1.5 is not a valid message TTL");
  assert.equal(refused(d({ "message-ttl": true })), "true is not a valid message TTL");
  assert.equal(refused(d({ "message-ttl": null })), "null is not a valid message TTL");
  assert.equal(refused(d({ expires: 0 })), "0 is not a valid queue expiry");
  assert.equal(refused(d({ "max-length": -1 })), "-1 is not a valid maximum length");
  assert.equal(refused(d({ "max-length-bytes": 1.5 })), "1.5 is not a valid maximum length in bytes");
  assert.equal(refused(d({ overflow: "bogus" })), '<<"bogus">> is not a valid overflow value');
  assert.equal(refused(d({ overflow: 1 })), "1 is not a valid overflow value");
  assert.equal(refused(d({ "delivery-limit": -3 })), "-3 is not a valid delivery limit");
  assert.equal(refused(d({ "queue-mode": "x" })), '<<"x">> is not a valid queue-mode value');
  assert.equal(refused(d({})), "no policy provided");
  assert.equal(refused(d("x")), 'definition must be a dictionary: <<"x">>');
  // Keys are checked in sorted order; unknown keys are reported only when the known ones pass.
  assert.equal(
    refused(d({ "message-ttl": "x", "max-length": "y" })),
    '<<"y">> is not a valid maximum length',
  );
  assert.equal(refused(d({ zzz: 1, "message-ttl": "x" })), '<<"x">> is not a valid message TTL');
  assert.equal(
    refused(d({ foo: 1, bar: 2 })),
    '[{<<"bar">>,2},{<<"foo">>,1}] are not recognised policy settings',
  );
  // Without the plugins, their keys are unknown too.
  assert.equal(
    refused(d({ "dead-letter-exchange": "dlx" })),
    '[{<<"dead-letter-exchange">>,<<"dlx">>}] are not recognised policy settings',
  );
  assert.equal(
    refused({ pattern: "^q", definition: { "max-length": 1 }, "apply-to": "bogus" }),
    "apply-to 'bogus' unrecognised; should be 'queues', 'exchanges' or 'all'",
  );
  assert.equal(
    refused({ pattern: "^q", definition: { "max-length": 1 }, priority: "7" }),
    'priority should be a number, actually was <<"7">>',
  );
  assert.equal(
    refused({ pattern: "^q", definition: { "max-length": 1 }, priority: null }),
    "priority should be a number, actually was null",
  );
  assert.equal(
    refused({ pattern: 5, definition: { "max-length": 1 } }),
    "pattern should be a binary but was 5",
  );
  assert.match(
    refused({ pattern: "(", definition: { "max-length": 1 } }),
    /^pattern should be regular expression but is invalid: /,
  );
  // Accepted as RabbitMQ accepts them.
  policy("zero", d({ "message-ttl": 0, "max-length": 0, "delivery-limit": 0, "max-length-bytes": 0 }));
  policy("big", d({ "message-ttl": 5000000000, expires: 5000000000 }));
  policy("float priority", { pattern: "", definition: { "max-length": 1 }, priority: 1.5 });
  policy("inert", d({ "queue-mode": "lazy", "ha-mode": "all" }));
});

Deno.test("erlangTerm() writes values as RabbitMQ's messages show them", () => {
  assert.equal(erlangTerm('a"b'), '<<"a\\"b">>');
  assert.equal(erlangTerm(1e-7), "1.0e-7");
  assert.equal(erlangTerm(2.5e21), "2500000000000000000000");
  assert.equal(erlangTerm(1.5e-10), "1.5e-10");
  assert.equal(erlangTerm([1, "x"]), '[1,<<"x">>]');
  assert.equal(erlangTerm({ b: 1, a: false }), '#{<<"a">> => false,<<"b">> => 1}');
});

// ---------------------------------------------------------------- applied to a vhost

function fanoutLike(name: string): ExchangeTypePlugin {
  return {
    name,
    stage: "exchange",
    create(): BindableRouter {
      const all: Binding[] = [];
      return {
        route(_input, out) {
          for (const b of all) out.queue(b.destination.name);
        },
        bind(b) {
          all.push(b);
          return true;
        },
        unbind: () => false,
        bindings: () => all,
        get size() {
          return all.length;
        },
      };
    },
  };
}

const aePlugin: StagePlugin = {
  name: "ae",
  stage: "unroutable",
  create: (owner) => ({
    route(_input, out) {
      const ae = owner.effectiveArg("alternate-exchange", "alternate-exchange");
      if (typeof ae === "string") out.exchange(ae);
    },
  }),
  policyKeys: [{ name: "alternate-exchange", validate: (v) => typeof v === "string" ? undefined : "is bad" }],
};

function setup() {
  const broker = new Broker();
  broker.register(fanoutLike("direct"));
  broker.register(aePlugin);
  const vhost = broker.addVHost("/");
  const declare = (name: string, args: FieldTable = EMPTY_TABLE) =>
    vhost.declareQueue({
      name,
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      args,
      owner: null,
    });
  const fill = (q: ReturnType<typeof declare>, n: number) => {
    for (let i = 0; i < n; i++) q.enqueue(new Message("", q.name, new Uint8Array(2), new Uint8Array(1)));
  };
  return { broker, vhost, declare, fill };
}

Deno.test("Broker.setPolicy() applies live: a lower max-length trims, clearing restores the arguments", () => {
  const { broker, declare, fill } = setup();
  const q = declare("q");
  fill(q, 10);
  assert.equal(broker.setPolicy("/", "len", { pattern: "^q$", definition: { "max-length": 3 } }), true);
  assert.equal(q.messageCount, 3);
  assert.equal(q.policy?.name, "len");
  fill(q, 5);
  assert.equal(q.messageCount, 3);
  assert.equal(broker.clearPolicy("/", "len"), true);
  assert.equal(broker.clearPolicy("/", "len"), false);
  assert.equal(q.policy, null);
  fill(q, 5);
  assert.equal(q.messageCount, 8);
});

Deno.test("Queue.applyPolicy() takes the lower of argument and policy for numbers, the argument for overflow", () => {
  const { broker, declare } = setup();
  const a = declare("a", { "x-max-length": 5, "x-message-ttl": 100, "x-overflow": "reject-publish" });
  const b = declare("b", { "x-max-length": 1, "x-expires": 50 });
  broker.setPolicy("/", "p", {
    pattern: ".*",
    definition: {
      "max-length": 2,
      "message-ttl": 1000,
      expires: 1000,
      "delivery-limit": 3,
      overflow: "reject-publish-dlx",
    },
  });
  assert.deepEqual(a.limits, { maxLength: 2, maxLengthBytes: Infinity, overflow: "reject-publish" });
  assert.equal(a.messageTtl, 100);
  assert.equal(a.expires, 1000);
  assert.equal(a.deliveryLimit, 3);
  assert.deepEqual(b.limits, { maxLength: 1, maxLengthBytes: Infinity, overflow: "reject-publish-dlx" });
  assert.equal(b.messageTtl, 1000);
  assert.equal(b.expires, 50);
  // A queue declared afterwards gets it at declare.
  const c = declare("c");
  assert.equal(c.policy?.name, "p");
  assert.equal(c.messageTtl, 1000);
  // Replacing the policy recomputes; clearing restores the arguments alone.
  broker.setPolicy("/", "p", { pattern: ".*", definition: { "message-ttl": 10 } });
  assert.equal(a.messageTtl, 10);
  assert.equal(a.limits.maxLength, 5);
  broker.clearPolicy("/", "p");
  assert.equal(a.messageTtl, 100);
  assert.equal(c.messageTtl, Infinity);
  assert.equal(c.deliveryLimit, Infinity);
});

Deno.test("Owner.effectiveArg() falls back to the policy; the x-argument wins", () => {
  const { broker, vhost, declare } = setup();
  const withArg = declare("with", { "x-dead-letter-exchange": "from-arg" });
  const without = declare("without");
  assert.throws(
    () => broker.setPolicy("/", "dlx", { pattern: ".*", definition: { "dead-letter-exchange": "x" } }),
    PolicyError,
  );
  broker.setPolicy("/", "ae", {
    pattern: "^(e1|without)$",
    definition: { "alternate-exchange": "from-policy" },
  });
  const ex = vhost.declareExchange({
    name: "e1",
    type: "direct",
    passive: false,
    durable: false,
    autoDelete: false,
    internal: false,
    args: EMPTY_TABLE,
  });
  assert.equal(ex.effectiveArg("alternate-exchange", "alternate-exchange"), "from-policy");
  assert.equal(ex.policy?.name, "ae");
  assert.equal(withArg.effectiveArg("x-dead-letter-exchange", "dead-letter-exchange"), "from-arg");
  assert.equal(without.effectiveArg("alternate-exchange", "alternate-exchange"), "from-policy");
  broker.clearPolicy("/", "ae");
  assert.equal(ex.effectiveArg("alternate-exchange", "alternate-exchange"), undefined);
  assert.equal(ex.policy, null);
});

Deno.test("Broker.register() refuses a plugin whose policy key is taken", () => {
  const broker = new Broker();
  assert.throws(
    () => broker.register({ ...aePlugin, policyKeys: [{ name: "message-ttl", validate: () => undefined }] }),
    /policy key "message-ttl" is taken/,
  );
  assert.throws(() => broker.setPolicy("nope", "p", { pattern: "", definition: {} }), RangeError);
});

Deno.test("Broker.setPolicy(): expires and delivery-limit from a policy act on existing queues", () => {
  const { broker, vhost, declare } = setup();
  const q = declare("idle");
  broker.now = q.lastUsed + 10_000;
  broker.setPolicy("/", "exp", { pattern: "^idle$", definition: { expires: 1000, "delivery-limit": 0 } });
  // The countdown starts when the policy applies, as RabbitMQ restarts its expiry timer.
  vhost.tick(broker.now + 999);
  assert.ok(vhost.queues.has("idle"));
  assert.equal(q.deliveryLimit, 0);
  vhost.tick(broker.now + 1000);
  assert.ok(!vhost.queues.has("idle"));
});
