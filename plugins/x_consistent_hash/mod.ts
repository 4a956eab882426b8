/**
 * The `x-consistent-hash` exchange type (a worked example of a user plugin, not loaded by default:
 * start the broker with `--plugin plugins/x_consistent_hash/mod.ts`). Each message goes to one
 * binding, picked by hashing its routing key, or the header named by the exchange argument
 * `hash-header`, onto a ring where each binding holds points in proportion to its weight (the
 * binding key, e.g. `"2"`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { consistentHashPlugin } from "./mod.ts";
 * const args: Record<string, string> = { "hash-header": "customer" };
 * consistentHashPlugin.validate!(args);
 * const router = consistentHashPlugin.create({ name: "chx", vhost: "/", effectiveArg: (x) => args[x] });
 * for (const q of ["a", "b", "c"]) {
 *   router.bind({ destination: { kind: "queue", name: q }, routingKey: "1", args: {} });
 * }
 * const queues: string[] = [];
 * const sink = { queue: (name: string) => queues.push(name), exchange: () => {} };
 * router.route({ exchange: "chx", routingKey: "x", headers: { customer: "c-42" } }, sink);
 * router.route({ exchange: "chx", routingKey: "y", headers: { customer: "c-42" } }, sink);
 * assert.equal(queues.length, 2);
 * assert.equal(queues[0], queues[1]); // one customer, one queue, whatever the routing key
 * ```
 *
 * @module
 */
export {
  consistentHashPlugin,
  consistentHashPlugin as default,
  ConsistentHashRouter,
  MAX_WEIGHT,
  POINTS_PER_WEIGHT,
} from "./x_consistent_hash.ts";
