/**
 * The `x-random` exchange type (a worked example of a user plugin, not loaded by default: start
 * the broker with `--plugin plugins/x_random/mod.ts`). Each message goes to one bound queue or
 * exchange, picked at random; the routing key is ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomPlugin } from "./mod.ts";
 * const router = randomPlugin.create({ name: "rnd", vhost: "/", effectiveArg: () => undefined });
 * for (const q of ["w1", "w2", "w3"]) {
 *   router.bind({ destination: { kind: "queue", name: q }, routingKey: "", args: {} });
 * }
 * const counts = new Map<string, number>();
 * const sink = { queue: (q: string) => counts.set(q, (counts.get(q) ?? 0) + 1), exchange: () => {} };
 * for (let i = 0; i < 300; i++) router.route({ exchange: "rnd", routingKey: "", headers: undefined }, sink);
 * assert.equal([...counts.values()].reduce((a, b) => a + b), 300); // one queue per message
 * ```
 *
 * @module
 */
export { randomPlugin, randomPlugin as default, RandomRouter } from "./x_random.ts";
