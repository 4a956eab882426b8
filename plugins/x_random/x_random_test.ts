import assert from "node:assert/strict";
import { routerConformance } from "../_conformance.ts";
import type { Binding, RoutingInput } from "../api.ts";
import { randomPlugin, RandomRouter } from "./x_random.ts";

for (
  const c of routerConformance({
    plugin: randomPlugin,
    match: { bindingKey: "", routingKey: "anything" },
    skip: {
      "every bound queue that matches is reached": "a message goes to one bound destination picked at random",
    },
  })
) {
  Deno.test({ name: `x-random: ${c.name}`, ignore: c.ignore !== undefined, fn: c.fn });
}

function binding(name: string, routingKey = "", kind: "queue" | "exchange" = "queue"): Binding {
  return { destination: { kind, name }, routingKey, args: {} };
}

const INPUT: RoutingInput = { exchange: "rnd", routingKey: "k", headers: undefined };

function routeOne(r: RandomRouter, input: RoutingInput = INPUT): string {
  const queues: string[] = [];
  r.route(input, { queue: (q) => queues.push(q), exchange: (e) => queues.push(`exchange:${e}`) });
  assert.equal(queues.length, 1, `routed to [${queues}]`);
  return queues[0];
}

/** A random source that plays back the given numbers. */
function scripted(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

// With bindings a, b, c (in bind order), the random number picks the binding at floor(r × 3).
const PICKS: { random: number; picked: string }[] = [
  { random: 0, picked: "a" },
  { random: 0.3333, picked: "a" },
  { random: 1 / 3, picked: "b" },
  { random: 0.5, picked: "b" },
  { random: 0.6667, picked: "c" },
  { random: 0.999999, picked: "c" },
  { random: 1, picked: "c" }, // outside [0, 1) but survived
];

for (const c of PICKS) {
  Deno.test(`RandomRouter.route() picks ${c.picked} for a random number of ${c.random}`, () => {
    const r = new RandomRouter(scripted([c.random]));
    for (const q of ["a", "b", "c"]) r.bind(binding(q));
    assert.equal(routeOne(r), c.picked);
  });
}

Deno.test("RandomRouter.route() spreads 30,000 messages evenly over three queues, within ±5%", () => {
  const r = new RandomRouter();
  for (const q of ["a", "b", "c"]) r.bind(binding(q));
  const counts = new Map<string, number>();
  for (let i = 0; i < 30_000; i++) {
    const q = routeOne(r);
    counts.set(q, (counts.get(q) ?? 0) + 1);
  }
  for (const q of ["a", "b", "c"]) {
    const share = counts.get(q)! / 30_000;
    assert.ok(Math.abs(share - 1 / 3) < 0.05, `${q} got ${share}`);
  }
});

Deno.test("RandomRouter.route() picks among bindings: a queue bound twice is picked twice as often", () => {
  const r = new RandomRouter();
  r.bind(binding("twice", "k1"));
  r.bind(binding("twice", "k2"));
  r.bind(binding("once"));
  let twice = 0;
  for (let i = 0; i < 30_000; i++) if (routeOne(r) === "twice") twice++;
  assert.ok(Math.abs(twice / 30_000 - 2 / 3) < 0.05, `twice got ${twice / 30_000}`);
});

Deno.test("RandomRouter.route() ignores the routing key and headers", () => {
  const r = new RandomRouter(scripted([0.1, 0.9]));
  r.bind(binding("a", "only-a"));
  r.bind(binding("b", "only-b"));
  assert.equal(routeOne(r, { exchange: "rnd", routingKey: "only-b", headers: { x: 1 } }), "a");
  assert.equal(routeOne(r, { exchange: "rnd", routingKey: "only-a", headers: undefined }), "b");
});

Deno.test("RandomRouter.route() always picks a lone binding, and routes exchanges through out.exchange()", () => {
  const r = new RandomRouter();
  r.bind(binding("e1", "", "exchange"));
  for (let i = 0; i < 100; i++) assert.equal(routeOne(r), "exchange:e1");
});

Deno.test("RandomRouter.route() never picks an unbound queue", () => {
  const r = new RandomRouter();
  for (const q of ["a", "b", "c"]) r.bind(binding(q));
  r.unbind(binding("b"));
  for (let i = 0; i < 1000; i++) assert.notEqual(routeOne(r), "b");
});
