/**
 * Deduplication, after the rabbitmq-message-deduplication plugin, at two levels.
 *
 * The `x-message-deduplication` exchange type:
 * it routes like `fanout`, except that a message whose `x-deduplication-header` header value was
 * seen recently is not routed at all. "Recently" is bounded by `x-cache-size` (entries; the
 * oldest go first) and by `x-cache-ttl` (ms; an exchange argument, or the message's own
 * `x-cache-ttl` header). With publisher confirms this gives effectively-once publishing: a
 * publisher that retries after a lost confirm does not create a second copy. A duplicate is still
 * confirmed; published with `mandatory` it comes back as unroutable, as with the original plugin.
 *
 * Queue level (a `queue`-stage plugin): a queue declared with `x-message-deduplication: true`
 * refuses a message whose `x-deduplication-header` value is already in the queue — ready, or
 * delivered and not yet acknowledged (so a requeue never makes two copies); it is dropped and
 * still confirmed. Once the message leaves the queue for good, the value is free again. A
 * durable queue keeps the values of its persistent messages in the store, so this holds across
 * restarts.
 *
 * @module
 */

import {
  type ExchangeTypePlugin,
  type FieldTable,
  type FieldValue,
  type KeyValueStore,
  ListRouter,
  type Owner,
  preconditionFailed,
  type QueueHook,
  type QueueMessageInput,
  type QueueStagePlugin,
  type RouteSink,
  routeTo,
  type RoutingInput,
  TypedField,
} from "../api.ts";

/** Default bound on remembered values when `x-cache-size` is not given. */
const DEFAULT_CACHE_SIZE = 100_000;

function integerOf(v: FieldValue | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
  const n = typeof v === "number" ? v : v instanceof TypedField ? v.valueOf() : NaN;
  return Number.isInteger(n) && n > 0 ? n : NaN;
}

/** A deduplication key from a header value (strings and numbers; other types by their text). */
function keyOf(v: FieldValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return `s${v}`;
  if (v instanceof Uint8Array) return `x${Array.from(v).join(",")}`;
  return `v${String(v.valueOf())}`;
}

/** Router for one deduplicating exchange. */
class DeduplicationRouter extends ListRouter {
  /** Seen values → when they stop counting (ms); insertion-ordered, so the oldest evicts first. */
  readonly #seen = new Map<string, number>();
  readonly #size: number;
  readonly #ttl: number | undefined;
  /** The cache on disk, for a durable exchange in a broker with a store: it survives restarts. */
  readonly #kv: KeyValueStore | undefined;

  constructor(owner: Owner) {
    super();
    this.#size = integerOf(owner.effectiveArg("x-cache-size", "cache-size")) ?? DEFAULT_CACHE_SIZE;
    this.#ttl = integerOf(owner.effectiveArg("x-cache-ttl", "cache-ttl"));
    this.#kv = owner.keyValue?.("seen");
    if (this.#kv !== undefined) {
      for (const [key, until] of this.#kv.entries()) {
        this.#seen.set(key, new DataView(until.buffer, until.byteOffset).getFloat64(0));
      }
    }
  }

  route(input: RoutingInput, out: RouteSink): void {
    const key = keyOf(input.headers?.["x-deduplication-header"]);
    if (key !== undefined && this.#isDuplicate(key, input.headers!)) return;
    routeTo(this.list, out);
  }

  #isDuplicate(key: string, headers: FieldTable): boolean {
    const now = Date.now();
    const until = this.#seen.get(key);
    if (until !== undefined && until > now) return true;
    if (until !== undefined) this.#seen.delete(key);
    const ttl = integerOf(headers["x-cache-ttl"]) ?? this.#ttl;
    const expires = ttl === undefined || Number.isNaN(ttl) ? Infinity : now + ttl;
    this.#seen.set(key, expires);
    if (this.#kv !== undefined) {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, expires);
      this.#kv.set(key, b);
    }
    if (this.#seen.size > this.#size) {
      const oldest = this.#seen.keys().next().value!;
      this.#seen.delete(oldest);
      this.#kv?.delete(oldest);
    }
    return false;
  }
}

/** The `x-message-deduplication` exchange type. */
export const messageDeduplicationPlugin: ExchangeTypePlugin = {
  name: "x-message-deduplication",
  stage: "exchange",
  validate(args: FieldTable): void {
    for (const arg of ["x-cache-size", "x-cache-ttl"]) {
      if (Number.isNaN(integerOf(args[arg]))) {
        throw preconditionFailed(`invalid argument '${arg}': expected a positive integer`);
      }
    }
  },
  create: (owner) => new DeduplicationRouter(owner),
};

const PRESENT = new Uint8Array(0);

/** Queue-level deduplication for one queue: the values of the messages it holds. */
class QueueDeduplication implements QueueHook {
  readonly #present = new Set<string>();
  /** The values of persistent messages, on disk (durable queue, broker with a store). */
  readonly #kv: KeyValueStore | undefined;

  constructor(owner: Owner) {
    this.#kv = owner.keyValue?.("present");
    if (this.#kv !== undefined) { for (const [key] of this.#kv.entries()) this.#present.add(key); }
  }

  accept(message: QueueMessageInput): boolean {
    const key = keyOf(message.headers?.["x-deduplication-header"]);
    if (key === undefined) return true;
    if (this.#present.has(key)) return false;
    this.#present.add(key);
    if (message.persistent) this.#kv?.set(key, PRESENT);
    return true;
  }

  released(message: QueueMessageInput): void {
    const key = keyOf(message.headers?.["x-deduplication-header"]);
    if (key !== undefined && this.#present.delete(key)) this.#kv?.delete(key);
  }

  deleted(): void {
    if (this.#kv !== undefined) { for (const key of this.#present) this.#kv.delete(key); }
    this.#present.clear();
  }
}

/** Queue-level deduplication: `x-message-deduplication: true` on queue.declare. */
export const messageDeduplicationQueuePlugin: QueueStagePlugin = {
  name: "x-message-deduplication-queue",
  stage: "queue",
  validate(args: FieldTable): void {
    const v = args["x-message-deduplication"];
    if (v !== undefined && typeof v !== "boolean") {
      throw preconditionFailed("invalid arg 'x-message-deduplication': expected a boolean");
    }
  },
  create: (owner) =>
    owner.effectiveArg("x-message-deduplication", "message-deduplication") === true
      ? new QueueDeduplication(owner)
      : undefined,
};
