/**
 * The plugin API: the only module a plugin imports.
 *
 * A plugin is an object implementing `RouterPlugin` (an exchange type, or an `unroutable` /
 * `dead-letter` stage). A plugin module's default export is one plugin or a list of them.
 * Errors go to clients through the helpers here; anything else a plugin throws becomes
 * 541 INTERNAL_ERROR for that one operation and is logged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BindableRouter, Binding, ExchangeTypePlugin } from "./api.ts";
 * const everything: ExchangeTypePlugin = {
 *   name: "x-everything",
 *   stage: "exchange",
 *   create(): BindableRouter {
 *     const all: Binding[] = [];
 *     return {
 *       route(_input, out) { for (const b of all) out.queue(b.destination.name); },
 *       bind(b) { all.push(b); return true; },
 *       unbind() { return false; },
 *       bindings() { return all; },
 *       get size() { return all.length; },
 *     };
 *   },
 * };
 * assert.equal(everything.stage, "exchange");
 * ```
 *
 * @module
 */

export {
  type BindableRouter,
  type Binding,
  BindingList,
  type DeadLetterReason,
  type ExchangeTypePlugin,
  ListRouter,
  type Owner,
  PLUGIN_API_VERSION,
  type QueueHook,
  type QueueMessageInput,
  type QueueStagePlugin,
  type Router,
  type RouterPlugin,
  type RouteSink,
  routeTo,
  type RoutingInput,
  sameBinding,
  sameTable,
  type StagePlugin,
} from "../core/broker/router.ts";
export type { KeyValueStore } from "../core/broker/store.ts";
export { type PolicyKey, type PolicyValue } from "../core/broker/policies.ts";
export { accessRefused, AmqpError, notFound, preconditionFailed } from "../core/errors.ts";
export { type FieldTable, type FieldValue, TypedField } from "../core/wire/field_table.ts";
