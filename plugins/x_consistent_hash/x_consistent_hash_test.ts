import assert from "node:assert/strict";
import { routerConformance } from "../_conformance.ts";
import {
  AmqpError,
  type BindableRouter,
  type Binding,
  type FieldTable,
  type Owner,
  TypedField,
} from "../api.ts";
import {
  consistentHashPlugin,
  hashText,
  MAX_WEIGHT,
  murmur3,
  parseWeight,
  POINTS_PER_WEIGHT,
  validateArgs,
} from "./x_consistent_hash.ts";

const ONE_DESTINATION = "a message goes to exactly one of the bound destinations, not to all";

for (
  const c of routerConformance({
    plugin: consistentHashPlugin,
    match: { bindingKey: "1", routingKey: "order-17" },
    skip: { "every bound queue that matches is reached": ONE_DESTINATION },
  })
) {
  Deno.test({ name: `x-consistent-hash: ${c.name}`, ignore: c.ignore !== undefined, fn: c.fn });
}

for (
  const c of routerConformance({
    plugin: consistentHashPlugin,
    exchangeArgs: { "hash-header": "customer" },
    match: { bindingKey: "3", routingKey: "", headers: { customer: "c-42" } },
    skip: { "every bound queue that matches is reached": ONE_DESTINATION },
  })
) {
  Deno.test({ name: `x-consistent-hash (hash-header): ${c.name}`, ignore: c.ignore !== undefined, fn: c.fn });
}

function owner(args: FieldTable = {}): Owner {
  return { name: "chx", vhost: "/", effectiveArg: (x) => args[x] };
}

function binding(queue: string, weight: string): Binding {
  return { destination: { kind: "queue", name: queue }, routingKey: weight, args: {} };
}

function router(bindings: [string, string][], args: FieldTable = {}): BindableRouter {
  const r = consistentHashPlugin.create(owner(args));
  for (const [q, w] of bindings) assert.equal(r.bind(binding(q, w)), true);
  return r;
}

/** Where each message goes; asserts it goes to exactly one queue. */
function routeOne(r: BindableRouter, routingKey: string, headers?: FieldTable): string {
  const queues: string[] = [];
  r.route({ exchange: "chx", routingKey, headers }, { queue: (q) => queues.push(q), exchange() {} });
  assert.equal(queues.length, 1, `routed to [${queues}]`);
  return queues[0];
}

const KEYS = Array.from({ length: 10_000 }, (_, i) => `key-${i}`);

function shares(r: BindableRouter): Map<string, number> {
  const counts = new Map<string, number>();
  for (const k of KEYS) {
    const q = routeOne(r, k);
    counts.set(q, (counts.get(q) ?? 0) + 1);
  }
  for (const [q, n] of counts) counts.set(q, n / KEYS.length);
  return counts;
}

Deno.test("murmur3() matches the reference MurmurHash3 x86_32 vectors", () => {
  const vectors: [string, number, number][] = [
    ["", 0, 0],
    ["", 1, 0x514e28b7],
    ["", 0xffffffff, 0x81f16f39],
    ["a", 0, 0x3c2569b2],
    ["ab", 0, 0x9bbfd75f],
    ["abc", 0, 0xb3dd93fa],
    ["test", 0, 0xba6bd213],
    ["Hello, world!", 1234, 0xfaf6cdb3],
    ["The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723],
  ];
  for (const [text, seed, expected] of vectors) {
    assert.equal(hashText(text, seed), expected, JSON.stringify(text));
    const bytes = new TextEncoder().encode(text);
    assert.equal(murmur3(bytes, bytes.length, seed), expected, JSON.stringify(text));
  }
  // Longer than the reused encoding buffer, and non-ASCII.
  const long = "é".repeat(300);
  const bytes = new TextEncoder().encode(long);
  assert.equal(hashText(long, 7), murmur3(bytes, bytes.length, 7));
});

Deno.test("parseWeight() accepts what Erlang's list_to_integer/1 accepts, from 1 to MAX_WEIGHT", () => {
  const cases: [string, number][] = [["1", 1], ["2", 2], ["10", 10], ["+3", 3], ["007", 7], [
    `${MAX_WEIGHT}`,
    MAX_WEIGHT,
  ]];
  for (const [key, weight] of cases) assert.equal(parseWeight(key), weight, key);
});

// The texts of rabbitmq_consistent_hash_exchange's validate_binding/2 (the plugin is not enabled on
// the reference RabbitMQ, so these come from its source), plus our upper bound.
const REFUSED_KEYS: [string, string][] = [
  ["", "The binding key must be an integer: <<>>"],
  ["abc", 'The binding key must be an integer: <<"abc">>'],
  ["1.5", 'The binding key must be an integer: <<"1.5">>'],
  [" 1", 'The binding key must be an integer: <<" 1">>'],
  ["1e3", 'The binding key must be an integer: <<"1e3">>'],
  ["0x10", 'The binding key must be an integer: <<"0x10">>'],
  ['say "2"', 'The binding key must be an integer: <<"say \\"2\\"">>'],
  ["\u0663", 'The binding key must be an integer: <<"\u0663">>'], // ARABIC-INDIC DIGIT THREE
  ["\u20ac", "The binding key must be an integer: <<226,130,172>>"],
  ["0", "The binding key must be greater than 0"],
  ["-1", "The binding key must be greater than 0"],
  ["-0", "The binding key must be greater than 0"],
  [`${MAX_WEIGHT + 1}`, `The binding key must be at most ${MAX_WEIGHT}`],
  ["99999999999999999999999", `The binding key must be at most ${MAX_WEIGHT}`],
];

for (const [key, text] of REFUSED_KEYS) {
  Deno.test(`ConsistentHashRouter.bind() refuses the weight ${JSON.stringify(key)} with 406`, () => {
    const r = consistentHashPlugin.create(owner());
    assert.throws(() => r.bind(binding("q", key)), (err: unknown) => {
      assert.ok(err instanceof AmqpError);
      assert.equal(err.code, 406);
      assert.equal(err.message, `PRECONDITION_FAILED - ${text}`);
      return true;
    });
    assert.equal(r.size, 0);
  });
}

const VALIDATE_CASES: { args: FieldTable; refused?: string }[] = [
  { args: {} },
  { args: { "hash-header": "customer" } },
  { args: { "hash-header": "" } },
  { args: { "alternate-exchange": "ae", "x-whatever": 1 } },
  {
    args: { "hash-header": "customer", "hash-property": "message_id" },
    refused: "hash-header and hash-property are mutually exclusive",
  },
  {
    args: { "hash-header": 1, "hash-property": "nope" },
    refused: "hash-header and hash-property are mutually exclusive",
  },
  { args: { "hash-header": 1 }, refused: "hash-header must be a string naming the header to hash" },
  {
    args: { "hash-header": new TypedField("l", 1) },
    refused: "hash-header must be a string naming the header to hash",
  },
  { args: { "hash-property": true }, refused: "hash-property must be a string naming the property to hash" },
  { args: { "hash-property": "user_id" }, refused: "Unsupported property: user_id" },
  ...["message_id", "correlation_id", "timestamp"].map((p) => ({
    args: { "hash-property": p },
    refused: `hash-property '${p}' is not supported: in this version an exchange type sees only the ` +
      "routing key and the headers of a message; use hash-header, or the routing key",
  })),
];

for (const c of VALIDATE_CASES) {
  Deno.test(`consistentHashPlugin.validate() ${c.refused ? "refuses" : "accepts"} ${JSON.stringify(c.args)}`, () => {
    if (c.refused === undefined) {
      validateArgs(c.args);
      consistentHashPlugin.validate!(c.args);
      return;
    }
    assert.throws(() => consistentHashPlugin.validate!(c.args), (err: unknown) => {
      assert.ok(err instanceof AmqpError);
      assert.equal(err.code, 406);
      assert.equal(err.message, `PRECONDITION_FAILED - ${c.refused}`);
      return true;
    });
  });
}

Deno.test("ConsistentHashRouter.route() splits 10,000 keys 1:2 by weight, within ±5%", () => {
  const s = shares(router([["light", "1"], ["heavy", "2"]]));
  assert.ok(Math.abs(s.get("light")! - 1 / 3) < 0.05, `light got ${s.get("light")}`);
  assert.ok(Math.abs(s.get("heavy")! - 2 / 3) < 0.05, `heavy got ${s.get("heavy")}`);
});

Deno.test("ConsistentHashRouter.route() splits keys evenly over equal weights, within ±5%", () => {
  const s = shares(router([["q1", "1"], ["q2", "1"], ["q3", "1"], ["q4", "1"]]));
  for (const q of ["q1", "q2", "q3", "q4"]) {
    assert.ok(Math.abs(s.get(q)! - 1 / 4) < 0.05, `${q} got ${s.get(q)}`);
  }
  const t = shares(router([["q1", "10"], ["q2", "10"], ["q3", "20"]]));
  assert.ok(Math.abs(t.get("q3")! - 1 / 2) < 0.05, `q3 got ${t.get("q3")}`);
});

Deno.test("ConsistentHashRouter.route() sends a key to the same queue every time, whatever the bind order", () => {
  const a = router([["q1", "1"], ["q2", "2"], ["q3", "1"]]);
  const b = router([["q3", "1"], ["q2", "2"], ["q1", "1"]]);
  for (const k of KEYS.slice(0, 2000)) {
    const q = routeOne(a, k);
    assert.equal(routeOne(a, k), q);
    assert.equal(routeOne(b, k), q, `key ${k}`);
  }
});

Deno.test("ConsistentHashRouter.unbind() moves only the removed binding's keys", () => {
  const r = router([["q1", "1"], ["q2", "1"], ["q3", "2"]]);
  const before = KEYS.map((k) => routeOne(r, k));
  assert.equal(r.unbind(binding("q2", "1")), true);
  let moved = 0;
  KEYS.forEach((k, i) => {
    const now = routeOne(r, k);
    if (before[i] === "q2") {
      assert.notEqual(now, "q2");
      moved++;
    } else assert.equal(now, before[i], `key ${k} moved from ${before[i]} to ${now}`);
  });
  assert.ok(moved > 1500, `only ${moved} keys were on q2`);
});

Deno.test("ConsistentHashRouter.bind() takes keys only onto the new binding", () => {
  const r = router([["q1", "1"], ["q2", "1"]]);
  const before = KEYS.map((k) => routeOne(r, k));
  r.bind(binding("q3", "1"));
  let taken = 0;
  KEYS.forEach((k, i) => {
    const now = routeOne(r, k);
    if (now !== before[i]) {
      assert.equal(now, "q3", `key ${k} moved from ${before[i]} to ${now}`);
      taken++;
    }
  });
  assert.ok(Math.abs(taken / KEYS.length - 1 / 3) < 0.05, `q3 took ${taken}`);
});

Deno.test("ConsistentHashRouter: raising a weight moves keys only onto that binding", () => {
  const r = router([["q1", "1"], ["q2", "1"]]);
  const before = KEYS.map((k) => routeOne(r, k));
  r.unbind(binding("q1", "1"));
  r.bind(binding("q1", "3"));
  KEYS.forEach((k, i) => {
    const now = routeOne(r, k);
    if (now !== before[i]) assert.equal(now, "q1", `key ${k} moved from ${before[i]} to ${now}`);
  });
});

Deno.test("ConsistentHashRouter keeps weight × POINTS_PER_WEIGHT points per binding", () => {
  // Reaching every point is impractical; check the ring's share instead: a weight-3 binding
  // against a weight-1 one gets about 3/4 of the keys.
  assert.equal(POINTS_PER_WEIGHT > 0, true);
  const s = shares(router([["small", "1"], ["big", "3"]]));
  assert.ok(Math.abs(s.get("big")! - 3 / 4) < 0.05, `big got ${s.get("big")}`);
});

Deno.test("ConsistentHashRouter.route() with hash-header hashes the header, not the routing key", () => {
  const bindings: [string, string][] = [["q1", "1"], ["q2", "1"], ["q3", "1"]];
  const byHeader = router(bindings, { "hash-header": "customer" });
  const byKey = router(bindings);
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const customer = `c-${i}`;
    const q = routeOne(byHeader, "ignored-1", { customer });
    seen.add(q);
    assert.equal(routeOne(byHeader, `other-${i}`, { customer, extra: i }), q);
    // A string header lands where the same text as a routing key would.
    assert.equal(routeOne(byKey, customer), q);
  }
  assert.equal(seen.size, 3, "some queue got no customer at all");
});

Deno.test("ConsistentHashRouter.route() with hash-header sends every message without it to one queue", () => {
  const r = router([["q1", "1"], ["q2", "1"], ["q3", "1"]], { "hash-header": "customer" });
  const q = routeOne(r, "a", undefined);
  for (let i = 0; i < 100; i++) {
    assert.equal(routeOne(r, `k${i}`, undefined), q);
    assert.equal(routeOne(r, `k${i}`, { other: i }), q);
  }
  // An inherited member of Object.prototype is not a header.
  const c = router([["q1", "1"], ["q2", "1"], ["q3", "1"]], { "hash-header": "constructor" });
  assert.equal(routeOne(c, "a", { a: 1 }), routeOne(c, "b", undefined));
});

Deno.test("ConsistentHashRouter.route() with hash-header hashes equal numbers alike, whatever their width", () => {
  const r = router([["q1", "1"], ["q2", "1"], ["q3", "1"], ["q4", "1"]], { "hash-header": "n" });
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const q = routeOne(r, "", { n: i });
    seen.add(q);
    assert.equal(routeOne(r, "", { n: new TypedField("l", i) }), q);
    assert.equal(routeOne(r, "", { n: new TypedField("b", i % 128) }), routeOne(r, "", { n: i % 128 }));
  }
  assert.equal(seen.size, 4);
  // Other value types route somewhere, consistently.
  for (const v of [true, null, new Date(5000), new Uint8Array([1, 2]), [1, "a"], { k: 1 }, 1.5]) {
    assert.equal(routeOne(r, "x", { n: v }), routeOne(r, "y", { n: v }));
  }
});

Deno.test("ConsistentHashRouter.route() routes an exchange destination through out.exchange()", () => {
  const r = consistentHashPlugin.create(owner());
  r.bind({ destination: { kind: "exchange", name: "e1" }, routingKey: "1", args: {} });
  r.bind({ destination: { kind: "queue", name: "q1" }, routingKey: "1", args: {} });
  let exchanges = 0;
  let queues = 0;
  for (const k of KEYS.slice(0, 500)) {
    r.route({ exchange: "chx", routingKey: k, headers: undefined }, {
      queue: () => queues++,
      exchange: (name) => {
        assert.equal(name, "e1");
        exchanges++;
      },
    });
  }
  assert.equal(exchanges + queues, 500);
  assert.ok(exchanges > 100 && queues > 100, `${exchanges} to the exchange, ${queues} to the queue`);
});
