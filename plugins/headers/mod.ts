/**
 * The `headers` exchange type: bindings match message headers (`x-match` `all`, `any`,
 * `all-with-x`, `any-with-x`), with RabbitMQ's value comparison; the routing key is ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { headersPlugin } from "./mod.ts";
 * const router = headersPlugin.create({ name: "amq.match", vhost: "/", effectiveArg: () => undefined });
 * router.bind({
 *   destination: { kind: "queue", name: "eu-or-pdf" },
 *   routingKey: "",
 *   args: { "x-match": "any", region: "eu", format: "pdf" },
 * });
 * const queues: string[] = [];
 * const sink = { queue: (name: string) => queues.push(name), exchange: () => {} };
 * router.route({ exchange: "amq.match", routingKey: "", headers: { format: "pdf" } }, sink);
 * assert.deepEqual(queues, ["eu-or-pdf"]);
 * ```
 *
 * @module
 */
export { headersPlugin, headersPlugin as default, HeadersRouter } from "./headers.ts";
