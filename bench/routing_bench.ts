/**
 * routing_bench.ts — in-process routing throughput of the exchange-type plugins.
 *
 *   deno bench bench/routing_bench.ts        (or: deno task bench:routing)
 *
 * Goes through the public plugin interface only, as the kernel does: `plugin.create(owner)`,
 * `bind()`, then `route()` into one reused RouteSink that only counts. Each bench iteration
 * routes one whole cycle of prebuilt inputs (4096 routes), so Deno's "time/iter" is the time of
 * 4096 routes. At the end a table gives routes/s per scenario (timed around each iteration's
 * loop, warm-up included) and the destinations per route (calls made on the sink): for the
 * topic scenarios these calls, not the trie, are most of the cost of a cache hit.
 *
 * Scenarios (patterns and keys from a seeded PRNG, so every run routes the same traffic):
 *
 *   topic/hit    10,000 bindings (one queue each) of random patterns: 1–5 words from a vocabulary
 *                of 50, each word `*` with probability 10 % and `#` with 5 %. Keys: 1–5 vocabulary
 *                words; the 4096-key cycle draws from 512 distinct keys, which all fit in the
 *                topic router's cache (1024 keys): after the first cycle every route is a hit.
 *   topic/miss   the same bindings; the cycle is 4096 distinct keys. The cache holds at most
 *                1024 keys and is cleared when full, so a key is always gone by the time it comes
 *                round again: every route is a miss (trie walk, plus caching the result).
 *   direct       10,000 bindings `k<i>` → queue `q<i>`; the cycle routes to random queues.
 *   headers      1,000 bindings, each on 1–3 of 10 headers (values 0–4), half `x-match` all and
 *                half any; every message carries the 10 headers with random values.
 *   fanout       10 queues.
 *
 * @module
 */

import type {
  BindableRouter,
  ExchangeTypePlugin,
  FieldTable,
  Owner,
  RouteSink,
  RoutingInput,
} from "../plugins/api.ts";
import { directPlugin } from "../plugins/direct/mod.ts";
import { fanoutPlugin } from "../plugins/fanout/mod.ts";
import { headersPlugin } from "../plugins/headers/mod.ts";
import { topicPlugin } from "../plugins/topic/mod.ts";
import { prng } from "../tests/_prng.ts";

const CYCLE = 4096;
const BINDINGS = 10_000;
const VOCABULARY = 50;

/** Counts what it is given; reused for every route, like the kernel's per-channel sink. */
class CountingSink implements RouteSink {
  count = 0;
  queue(_name: string): void {
    this.count++;
  }
  exchange(_name: string): void {
    this.count++;
  }
}

const rand = prng(20261126);
const VOCAB = Array.from({ length: VOCABULARY }, (_, i) => `w${i.toString(36)}${"abcdefgh".slice(0, i % 8)}`);

function randomWords(wildcards: boolean): string {
  const n = 1 + Math.floor(rand() * 5);
  const words: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = rand();
    if (wildcards && p < 0.05) words.push("#");
    else if (wildcards && p < 0.15) words.push("*");
    else words.push(VOCAB[Math.floor(rand() * VOCAB.length)]);
  }
  return words.join(".");
}

const OWNER: Owner = { name: "bench", vhost: "/", effectiveArg: () => undefined };

function routerWith(plugin: ExchangeTypePlugin, keys: readonly string[]): BindableRouter {
  const router = plugin.create(OWNER);
  for (let i = 0; i < keys.length; i++) {
    router.bind({ destination: { kind: "queue", name: `q${i}` }, routingKey: keys[i], args: {} });
  }
  return router;
}

function inputs(keys: readonly string[]): RoutingInput[] {
  return keys.map((routingKey) => ({ exchange: "bench", routingKey, headers: undefined }));
}

interface Scenario {
  name: string;
  router: BindableRouter;
  cycle: RoutingInput[];
  sink: CountingSink;
  routes: number;
  ms: number;
}

const scenarios: Scenario[] = [];

function scenario(name: string, router: BindableRouter, cycle: RoutingInput[]): void {
  const s: Scenario = { name, router, cycle, sink: new CountingSink(), routes: 0, ms: 0 };
  scenarios.push(s);
  Deno.bench({
    name,
    group: "routing",
    fn() {
      const { router, cycle, sink } = s;
      const t0 = performance.now();
      for (let i = 0; i < cycle.length; i++) router.route(cycle[i], sink);
      s.ms += performance.now() - t0;
      s.routes += cycle.length;
    },
  });
}

// topic: 10,000 random patterns.
const patterns: string[] = [];
for (let i = 0; i < BINDINGS; i++) patterns.push(randomWords(true));
const topic = routerWith(topicPlugin, patterns);

const hitPool: string[] = [];
for (let i = 0; i < 512; i++) hitPool.push(randomWords(false));
const hitKeys: string[] = [];
for (let i = 0; i < CYCLE; i++) hitKeys.push(hitPool[Math.floor(rand() * hitPool.length)]);

const distinct = new Set<string>();
while (distinct.size < CYCLE) distinct.add(randomWords(false));
const missKeys = [...distinct];

scenario("topic/hit: 10k bindings, 4096 keys over 512 distinct (cache hits)", topic, inputs(hitKeys));
scenario("topic/miss: 10k bindings, 4096 distinct keys (cache misses)", topic, inputs(missKeys));

// direct: 10,000 queues.
const directKeys = Array.from({ length: BINDINGS }, (_, i) => `k${i}`);
const directCycle = Array.from({ length: CYCLE }, () => directKeys[Math.floor(rand() * BINDINGS)]);
scenario("direct: 10k queues", routerWith(directPlugin, directKeys), inputs(directCycle));

// headers: 1,000 bindings, each matching 1–3 of 10 headers (values 0–4), half x-match all, half
// any; messages carry all 10 headers with random values.
const headerNames = Array.from({ length: 10 }, (_, i) => `h${i}`);
const headersRouter = headersPlugin.create(OWNER);
for (let i = 0; i < 1000; i++) {
  const args: FieldTable = { "x-match": i % 2 === 0 ? "all" : "any" };
  const n = 1 + Math.floor(rand() * 3);
  for (let j = 0; j < n; j++) args[headerNames[Math.floor(rand() * 10)]] = Math.floor(rand() * 5);
  headersRouter.bind({ destination: { kind: "queue", name: `q${i}` }, routingKey: "", args });
}
const headerCycle: RoutingInput[] = Array.from({ length: CYCLE }, () => {
  const headers: FieldTable = {};
  for (const h of headerNames) headers[h] = Math.floor(rand() * 5);
  return { exchange: "bench", routingKey: "", headers };
});
scenario("headers: 1k bindings, 10 headers per message", headersRouter, headerCycle);

// fanout: 10 queues.
scenario("fanout: 10 queues", routerWith(fanoutPlugin, Array(10).fill("")), inputs(Array(CYCLE).fill("x")));

const encoder = new TextEncoder();
globalThis.addEventListener("unload", () => {
  const lines = ["", "routes/s (all iterations, warm-up included):"];
  for (const s of scenarios) {
    if (s.routes === 0) continue;
    const perSecond = Math.round(s.routes / (s.ms / 1000));
    const fanout = (s.sink.count / s.routes).toFixed(1);
    lines.push(
      `  ${s.name.padEnd(68)} ${
        perSecond.toLocaleString("en-US").padStart(13)
      }  (${fanout} destinations/route)`,
    );
  }
  Deno.stdout.writeSync(encoder.encode(lines.join("\n") + "\n"));
});
