/**
 * The `topic` exchange type: dot-separated binding patterns with `*` (one word) and `#` (zero or
 * more words), matched with RabbitMQ's semantics through a trie and a cache of recent keys.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicPlugin } from "./mod.ts";
 * const router = topicPlugin.create({ name: "amq.topic", vhost: "/", effectiveArg: () => undefined });
 * router.bind({ destination: { kind: "queue", name: "eu" }, routingKey: "orders.*.eu", args: {} });
 * const queues: string[] = [];
 * const sink = { queue: (name: string) => queues.push(name), exchange: () => {} };
 * router.route({ exchange: "amq.topic", routingKey: "orders.new.eu", headers: undefined }, sink);
 * assert.deepEqual(queues, ["eu"]);
 * ```
 *
 * @module
 */
export { topicPlugin, topicPlugin as default, TopicRouter } from "./topic.ts";
