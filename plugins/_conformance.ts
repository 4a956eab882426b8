/**
 * The conformance suite every exchange-type plugin runs against itself, ours or a user's.
 *
 * It is runtime-neutral (no test framework, no runtime API): `routerConformance()` returns the
 * cases, and a test file registers them with its runner:
 *
 * ```ts
 * import { routerConformance } from "../_conformance.ts";
 * import { directPlugin } from "./direct.ts";
 * for (const c of routerConformance({ plugin: directPlugin, match: { bindingKey: "k", routingKey: "k" },
 *   miss: { routingKey: "other" } })) Deno.test(`direct: ${c.name}`, c.fn);
 * ```
 *
 * A plugin whose routing is not a pure function of key and headers (a random choice, a weight
 * ring) says so with `skip`, naming the case and the reason; the runner shows the skip.
 *
 * @module
 */

import type { Binding, ExchangeTypePlugin, FieldTable, Owner, RouteSink, RoutingInput } from "./api.ts";

/** What a plugin tells the suite about its matching. */
export interface ConformanceOptions {
  plugin: ExchangeTypePlugin;
  /** A binding (key and arguments) and a message (key and headers) that it routes. */
  match: { bindingKey: string; bindingArgs?: FieldTable; routingKey: string; headers?: FieldTable };
  /** A message that the `match` binding does not route. Omit for types that route everything (fanout). */
  miss?: { routingKey: string; headers?: FieldTable };
  /** Exchange arguments for `create()`. */
  exchangeArgs?: FieldTable;
  /** Cases to skip, by name, each with the reason. */
  skip?: Record<string, string>;
}

/** One case: a name and a function that throws on failure. */
export interface ConformanceCase {
  name: string;
  fn: () => void;
  /** Why it is skipped (the runner reports it as ignored). */
  ignore?: string;
}

class Collector implements RouteSink {
  queues: string[] = [];
  exchanges: { name: string; routingKey?: string }[] = [];
  queue(name: string): void {
    this.queues.push(name);
  }
  exchange(name: string, routingKey?: string): void {
    this.exchanges.push({ name, routingKey });
  }
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`conformance: ${message}`);
}

/** Returns the cases for `options.plugin`. */
export function routerConformance(options: ConformanceOptions): ConformanceCase[] {
  const { plugin, match, miss } = options;
  const args: FieldTable = options.exchangeArgs ?? {};
  const owner: Owner = { name: "conformance", vhost: "/", effectiveArg: (x) => args[x] };
  const binding = (queue: string, kind: "queue" | "exchange" = "queue"): Binding => ({
    destination: { kind, name: queue },
    routingKey: match.bindingKey,
    args: match.bindingArgs ?? {},
  });
  const input = (m: { routingKey: string; headers?: FieldTable }): RoutingInput => ({
    exchange: "conformance",
    routingKey: m.routingKey,
    headers: m.headers,
  });
  const cases: ConformanceCase[] = [
    {
      name: "a new router has no bindings and routes nowhere",
      fn() {
        const r = plugin.create(owner);
        check(r.size === 0, `size is ${r.size}, expected 0`);
        check([...r.bindings()].length === 0, "bindings() is not empty");
        const out = new Collector();
        r.route(input(match), out);
        check(out.queues.length === 0 && out.exchanges.length === 0, "routed with no bindings");
      },
    },
    {
      name: "bind() returns true, then false for the same binding; size counts it once",
      fn() {
        const r = plugin.create(owner);
        check(r.bind(binding("q1")) === true, "first bind() did not return true");
        check(r.bind(binding("q1")) === false, "duplicate bind() did not return false");
        check(r.size === 1, `size is ${r.size}, expected 1`);
        check([...r.bindings()].length === 1, "bindings() does not list exactly one binding");
      },
    },
    {
      name: "a matching message reaches the bound queue",
      fn() {
        const r = plugin.create(owner);
        r.bind(binding("q1"));
        const out = new Collector();
        r.route(input(match), out);
        check(out.queues.includes("q1"), `routed to [${out.queues}], expected q1`);
        check(out.queues.every((q) => q === "q1"), `routed to unbound queues [${out.queues}]`);
      },
    },
    {
      name: "a message that does not match reaches nothing",
      ignore: miss ? undefined : "this exchange type routes every message",
      fn() {
        const r = plugin.create(owner);
        r.bind(binding("q1"));
        const out = new Collector();
        r.route(input(miss!), out);
        check(out.queues.length === 0, `routed to [${out.queues}]`);
      },
    },
    {
      name: "an exchange destination is routed through out.exchange()",
      fn() {
        const r = plugin.create(owner);
        r.bind(binding("e1", "exchange"));
        const out = new Collector();
        r.route(input(match), out);
        check(out.exchanges.some((e) => e.name === "e1"), "out.exchange('e1') was not called");
        check(out.queues.length === 0, "an exchange destination was routed as a queue");
      },
    },
    {
      name: "every bound queue that matches is reached",
      fn() {
        const r = plugin.create(owner);
        r.bind(binding("q1"));
        r.bind(binding("q2"));
        const out = new Collector();
        r.route(input(match), out);
        check(out.queues.includes("q1") && out.queues.includes("q2"), `routed to [${out.queues}]`);
      },
    },
    {
      name: "unbind() returns true once, then false; the queue is no longer reached",
      fn() {
        const r = plugin.create(owner);
        r.bind(binding("q1"));
        r.bind(binding("q2"));
        check(r.unbind(binding("q1")) === true, "unbind() of a binding did not return true");
        check(r.unbind(binding("q1")) === false, "second unbind() did not return false");
        check(r.size === 1, `size is ${r.size}, expected 1`);
        const out = new Collector();
        r.route(input(match), out);
        check(!out.queues.includes("q1"), "unbound queue still reached");
        check(out.queues.includes("q2"), "remaining queue no longer reached");
      },
    },
    {
      name: "unbind() of a binding never made returns false and changes nothing",
      fn() {
        const r = plugin.create(owner);
        r.bind(binding("q1"));
        check(r.unbind(binding("nope")) === false, "unbind() of a missing binding did not return false");
        check(r.size === 1, `size is ${r.size}, expected 1`);
      },
    },
    {
      name: "routers from one plugin do not share bindings",
      fn() {
        const a = plugin.create(owner);
        const b = plugin.create(owner);
        a.bind(binding("q1"));
        check(b.size === 0, "a binding on one router showed up on another");
        const out = new Collector();
        b.route(input(match), out);
        check(out.queues.length === 0, "a router routed through another's binding");
      },
    },
    {
      name: "route() copes with a message without headers",
      fn() {
        const r = plugin.create(owner);
        r.bind(binding("q1"));
        r.route(
          { exchange: "conformance", routingKey: match.routingKey, headers: undefined },
          new Collector(),
        );
      },
    },
  ];
  const skip = options.skip ?? {};
  for (const c of cases) if (skip[c.name]) c.ignore = skip[c.name];
  return cases;
}
