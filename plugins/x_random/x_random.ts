/**
 * The `x-random` exchange type, after RabbitMQ's `rabbitmq_random_exchange`: each message goes to
 * one binding picked uniformly at random; the routing key and headers are ignored.
 *
 * As in RabbitMQ, the pick is among bindings, not destinations: a queue bound twice (with two
 * binding keys) is picked twice as often, which is a way to weight it.
 *
 * Owns the bindings, in an array, so `route()` is one random number and one index.
 *
 * @module
 */

import { type ExchangeTypePlugin, ListRouter, type RouteSink, type RoutingInput } from "../api.ts";

/** Router for one random exchange. */
export class RandomRouter extends ListRouter {
  readonly #random: () => number;

  /**
   * @param random source of numbers in [0, 1)
   * @default Math.random
   */
  constructor(random: () => number = Math.random) {
    super();
    this.#random = random;
  }

  route(_input: RoutingInput, out: RouteSink): void {
    const all = this.list;
    const n = all.length;
    if (n === 0) return;
    // min() guards a source that returns 1 (outside the contract, but cheap to survive).
    const d = all[Math.min(n - 1, Math.floor(this.#random() * n))].destination;
    if (d.kind === "queue") out.queue(d.name);
    else out.exchange(d.name);
  }
}

/**
 * The `x-random` exchange type plugin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomPlugin } from "./x_random.ts";
 * const router = randomPlugin.create({ name: "rnd", vhost: "/", effectiveArg: () => undefined });
 * router.bind({ destination: { kind: "queue", name: "w1" }, routingKey: "", args: {} });
 * router.bind({ destination: { kind: "queue", name: "w2" }, routingKey: "", args: {} });
 * const queues: string[] = [];
 * const sink = { queue: (name: string) => queues.push(name), exchange: () => {} };
 * router.route({ exchange: "rnd", routingKey: "job", headers: undefined }, sink);
 * assert.equal(queues.length, 1);
 * assert.ok(queues[0] === "w1" || queues[0] === "w2");
 * ```
 */
export const randomPlugin: ExchangeTypePlugin = {
  name: "x-random",
  stage: "exchange",
  create: () => new RandomRouter(),
};
