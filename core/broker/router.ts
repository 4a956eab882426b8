/**
 * The Router contract between the kernel and routing plugins (re-exported by `plugins/api.ts`).
 *
 * Owns only types: what a plugin receives (`RoutingInput`, `Owner`, `Binding`) and what it
 * implements (`Router`, `BindableRouter`, `RouterPlugin`). The kernel keeps every shared
 * semantic: following exchange-to-exchange destinations once each, removing duplicate queues,
 * `mandatory`, and refusing unknown exchange types.
 *
 * @module
 */

import type { FieldTable, FieldValue } from "../wire/field_table.ts";
import type { PolicyKey } from "./policies.ts";
import type { KeyValueStore } from "./store.ts";

/** Version of this contract; a plugin may check it at load time. */
export const PLUGIN_API_VERSION = 1;

/** Why a queue let go of a message (the `dead-letter` stage). */
export type DeadLetterReason = "rejected" | "expired" | "maxlen" | "delivery_limit";

/** What a router sees of a message: never the body. */
export interface RoutingInput {
  readonly exchange: string;
  readonly routingKey: string;
  /** Message headers, decoded only when a router needs them. */
  readonly headers: FieldTable | undefined;
  /** Only in the `dead-letter` stage. */
  readonly reason?: DeadLetterReason;
  /** True when the message comes back after a delay the router asked for (`RouteSink.delay`). */
  readonly delayed?: boolean;
}

/** Where a router puts its results. Owned by the caller and reused for every publish. */
export interface RouteSink {
  /** Routes to the queue of that name (duplicates allowed: the kernel removes them). */
  queue(name: string): void;
  /** Routes on through another exchange (the kernel follows each exchange once). */
  exchange(name: string, routingKey?: string): void;
  /**
   * Holds the message and routes it through this exchange again after `ms` milliseconds, with
   * `input.delayed` set (for delayed-delivery exchange types). It counts as routed: no alternate
   * exchange, no return. Optional: test sinks may leave it out.
   */
  delay?(ms: number): void;
}

/** Routes a message to queues and exchanges. `route()` runs on the hot path: keep it cheap. */
export interface Router {
  route(input: RoutingInput, out: RouteSink): void;
}

/** A binding from an exchange to a queue or another exchange. */
export interface Binding {
  readonly destination: { readonly kind: "queue" | "exchange"; readonly name: string };
  readonly routingKey: string;
  readonly args: FieldTable;
}

/** A router that holds bindings: an exchange type. Parse at bind time so `route()` stays cheap. */
export interface BindableRouter extends Router {
  /** Adds a binding; false if an equal one existed. Throws PRECONDITION_FAILED on bad args. */
  bind(binding: Binding): boolean;
  /** Removes a binding; false if there was none. */
  unbind(binding: Binding): boolean;
  /** Every binding, in no particular order. */
  bindings(): Iterable<Binding>;
  /** Number of bindings. */
  readonly size: number;
}

/** The exchange or queue a router serves. */
export interface Owner {
  readonly name: string;
  readonly vhost: string;
  /**
   * An argument of the owner, with the value of its policy (see `policyKeys`) as fallback: the
   * x-argument wins, as in RabbitMQ. Read it when needed, not once: a policy may change any time.
   */
  effectiveArg(xArg: string, policyKey: string): FieldValue | undefined;
  /**
   * A router of another registered exchange type for this same exchange, for types that wrap
   * another (the delayed-message exchange). Undefined if no such type is loaded. Exchanges only.
   */
  routerOf?(type: string): BindableRouter | undefined;
  /**
   * A durable key-value map for this owner's plugin state (a deduplication cache…), kept across
   * restarts by the broker's store; `namespace` tells apart several maps of one owner.
   * Undefined when the owner is not durable or the broker has no store: keep state in memory.
   */
  keyValue?(namespace: string): KeyValueStore | undefined;
}

/** An exchange type. */
export interface ExchangeTypePlugin {
  /** Wire name, e.g. `direct` or `x-consistent-hash`. */
  readonly name: string;
  readonly stage: "exchange";
  create(owner: Owner): BindableRouter;
  /** Declare-time check of the exchange's arguments; throws PRECONDITION_FAILED. */
  validate?(args: FieldTable): void;
  /** Policy keys this plugin reads (through `Owner.effectiveArg`); policies may then set them. */
  readonly policyKeys?: readonly PolicyKey[];
}

/** A stage plugin that is not an exchange type. */
export interface StagePlugin {
  readonly name: string;
  readonly stage: "unroutable" | "dead-letter";
  create(owner: Owner): Router;
  /** Policy keys this plugin reads (through `Owner.effectiveArg`); policies may then set them. */
  readonly policyKeys?: readonly PolicyKey[];
}

/** What a queue-stage plugin sees of a message: its headers and whether it is persistent. */
export interface QueueMessageInput {
  readonly headers: FieldTable | undefined;
  /** delivery-mode 2: it outlives a restart when the queue is durable. */
  readonly persistent: boolean;
}

/**
 * A queue's hook for one queue-stage plugin: sees every message the queue takes and lets go of.
 * Runs on the publish path of that queue only: keep it cheap.
 */
export interface QueueHook {
  /** A message is about to enter the queue; false drops it (it is still confirmed). */
  accept(message: QueueMessageInput): boolean;
  /** A message it accepted left the queue for good (acked, expired, dropped, dead-lettered, purged). */
  released(message: QueueMessageInput): void;
  /** The queue was deleted. */
  deleted?(): void;
}

/**
 * A plugin of the `queue` stage (e.g. queue-level deduplication): `create` is called for every
 * queue declared and returns a hook, or undefined when the queue's arguments do not ask for it.
 */
export interface QueueStagePlugin {
  readonly name: string;
  readonly stage: "queue";
  /** Policy keys this plugin understands (validated by it, shown in the effective policy). */
  readonly policyKeys?: readonly PolicyKey[];
  create(owner: Owner): QueueHook | undefined;
  /** Declare-time check of the queue's arguments; throws PRECONDITION_FAILED. */
  validate?(args: FieldTable): void;
}

/** Anything a plugin module may export. */
export type RouterPlugin = ExchangeTypePlugin | StagePlugin | QueueStagePlugin;

/**
 * An ordered list of bindings without duplicates, for routers that keep their bindings in a
 * list (fanout, random, per-key lists): `add`/`remove` answer what `bind`/`unbind` must return.
 */
export class BindingList implements Iterable<Binding> {
  readonly #items: Binding[] = [];

  /** Adds a binding; false if an equal one is already there. */
  add(binding: Binding): boolean {
    if (this.#items.some((b) => sameBinding(b, binding))) return false;
    this.#items.push(binding);
    return true;
  }

  /** Removes a binding; false if there was none. */
  remove(binding: Binding): boolean {
    const i = this.#items.findIndex((b) => sameBinding(b, binding));
    if (i < 0) return false;
    this.#items.splice(i, 1);
    return true;
  }

  /** The bindings, in the order they were added (read-only; indexed access for `route()`). */
  get items(): readonly Binding[] {
    return this.#items;
  }

  /** Number of bindings. */
  get size(): number {
    return this.#items.length;
  }

  [Symbol.iterator](): Iterator<Binding> {
    return this.#items[Symbol.iterator]();
  }
}

/**
 * A router that keeps its bindings in one list (fanout-like types): subclasses write only
 * `route()`, reading the bindings from `list`.
 */
export abstract class ListRouter implements BindableRouter {
  readonly #bindings = new BindingList();

  abstract route(input: RoutingInput, out: RouteSink): void;

  /** The bindings, in the order they were made. */
  protected get list(): readonly Binding[] {
    return this.#bindings.items;
  }

  bind(binding: Binding): boolean {
    return this.#bindings.add(binding);
  }

  unbind(binding: Binding): boolean {
    return this.#bindings.remove(binding);
  }

  bindings(): Iterable<Binding> {
    return this.#bindings;
  }

  get size(): number {
    return this.#bindings.size;
  }
}

/** Sends each binding's destination to the sink: a queue, or an exchange to route on through. */
export function routeTo(bindings: readonly Binding[], out: RouteSink): void {
  for (let i = 0; i < bindings.length; i++) {
    const d = bindings[i].destination;
    if (d.kind === "queue") out.queue(d.name);
    else out.exchange(d.name);
  }
}

/** True when two bindings are the same: same destination, key and arguments. */
export function sameBinding(a: Binding, b: Binding): boolean {
  return a.destination.kind === b.destination.kind && a.destination.name === b.destination.name &&
    a.routingKey === b.routingKey && sameTable(a.args, b.args);
}

/** Structural equality of field tables (order of keys ignored). */
export function sameTable(a: FieldTable, b: FieldTable): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!(k in b) || !sameValue(a[k], b[k])) return false;
  }
  return true;
}

function sameValue(a: FieldValue, b: FieldValue): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
    return a?.valueOf() === b?.valueOf();
  }
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (Array.isArray(a) || Array.isArray(b)) return false;
  if ("type" in a && "type" in b) return a.type === b.type && a.valueOf() === b.valueOf();
  return sameTable(a as FieldTable, b as FieldTable);
}
