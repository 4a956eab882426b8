/**
 * The `x-consistent-hash` exchange type, after RabbitMQ's `rabbitmq_consistent_hash_exchange`:
 * each message goes to exactly one binding, picked by hashing the routing key (or the header
 * named by the exchange argument `hash-header`) onto a ring of points.
 *
 * - The binding key is the weight: a positive integer as a string (`"1"`, `"10"`). A binding gets
 *   `weight × POINTS_PER_WEIGHT` points on the ring, so it receives a share of the keys
 *   proportional to its weight. A key that is not an integer, or is below 1, is refused at bind
 *   time with 406 and the real plugin's text.
 * - Consistency: a point's position depends only on its destination and index, so the ring is a
 *   function of the set of bindings, not of their order; removing a binding moves only the keys
 *   that were on its points, and adding one takes keys only onto its own points.
 * - `hash-header`: hash that header instead of the routing key. A string hashes like a routing key
 *   with the same text, a byte array by its bytes, any other value by a fixed text form of it
 *   (numbers as decimal text, whatever their width). Messages without the header all go to one
 *   and the same binding, as in RabbitMQ (which hashes `undefined`).
 * - `hash-property` is refused at declare time: in this version a router sees only the routing key
 *   and the headers, never the message properties.
 *
 * Differences from RabbitMQ: RabbitMQ uses jump consistent hashing over `erlang:phash2`, so a given
 * key lands on a different queue here than there (only the distribution properties carry over),
 * and a weight above `MAX_WEIGHT` is refused here to keep the ring's memory bounded.
 *
 * Owns the bindings and the ring: points in a sorted `Uint32Array` with their destinations in a
 * parallel array, rebuilt at bind and unbind, so `route()` is one hash and one binary search.
 *
 * @module
 */

import {
  type BindableRouter,
  type Binding,
  type ExchangeTypePlugin,
  type FieldTable,
  type FieldValue,
  type Owner,
  preconditionFailed,
  type RouteSink,
  type RoutingInput,
  sameBinding,
  TypedField,
} from "../api.ts";

/**
 * Ring points per unit of weight. The arcs between random points vary in length, so with few
 * points the shares stray from the weights: over random queue names and 10,000 keys, a 1:2 split
 * lands within about ±3% of 1/3 in 95% of cases at 500 points per weight (±4.5% at libketama's 160).
 * A point costs 8 bytes, so a binding of weight 100 holds 400 KB of ring.
 */
export const POINTS_PER_WEIGHT = 500;

/** Largest accepted weight (RabbitMQ has no limit; ours bounds a binding's ring memory). */
export const MAX_WEIGHT = 1000;

/** The message properties RabbitMQ's plugin can hash on (`hash-property`). */
const PROPERTIES = ["correlation_id", "message_id", "timestamp"];

/** Seed for hashing a message that lacks the `hash-header` header. */
const ABSENT_SEED = 0x9e3779b9;

// ---- hashing: MurmurHash3 x86 32-bit over UTF-8 bytes ----

const utf8 = new TextEncoder();
/** Reused buffer for UTF-8 encoding keys on the hot path (routing keys are at most 255 bytes). */
let scratch = new Uint8Array(256);

/**
 * MurmurHash3 (x86, 32-bit) of `bytes[0..length)`.
 *
 * @param bytes input bytes
 * @param length number of bytes to hash
 * @param seed the seed
 * @returns an unsigned 32-bit hash
 */
export function murmur3(bytes: Uint8Array, length: number, seed: number): number {
  let h = seed >>> 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = bytes[blocks];
    if (tail > 1) k ^= bytes[blocks + 1] << 8;
    if (tail > 2) k ^= bytes[blocks + 2] << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MurmurHash3 of the UTF-8 bytes of `text`, without allocating for short texts.
 *
 * @param text the text to hash
 * @param seed the seed
 * @returns an unsigned 32-bit hash
 */
export function hashText(text: string, seed: number): number {
  if (text.length * 3 > scratch.length) scratch = new Uint8Array(text.length * 3);
  const { written } = utf8.encodeInto(text, scratch);
  return murmur3(scratch, written, seed);
}

/** Hash of a `hash-header` value (undefined: the header is missing). */
function hashValue(v: FieldValue | undefined): number {
  if (v === undefined) return murmur3(scratch, 0, ABSENT_SEED);
  if (typeof v === "string") return hashText(v, 0);
  if (v instanceof Uint8Array) return murmur3(v, v.length, 0);
  return hashText(textOf(v), 0);
}

/** A fixed text form of a field value, for hashing. */
function textOf(v: FieldValue): string {
  if (v === null) return "null";
  if (typeof v !== "object") return String(v);
  if (v instanceof TypedField) {
    return v.type === "D"
      ? `${(v.value as { value: number }).value}e-${(v.value as { scale: number }).scale}`
      : String(v.value);
  }
  if (v instanceof Date) return String(v.getTime() / 1000);
  if (v instanceof Uint8Array) return `<${v.join(",")}>`;
  if (Array.isArray(v)) return `[${v.map(textOf).join(",")}]`;
  return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${textOf(v[k])}`).join(",")}}`;
}

// ---- binding keys ----

/**
 * The weight a binding key stands for, checked as RabbitMQ's plugin checks it.
 *
 * @param key the binding key
 * @returns the weight, 1 to `MAX_WEIGHT`
 * @throws 406 PRECONDITION_FAILED when the key is not an integer, is below 1, or is above `MAX_WEIGHT`
 */
export function parseWeight(key: string): number {
  // Erlang's list_to_integer/1: optional sign, ASCII digits, nothing else.
  if (!/^[+-]?[0-9]+$/.test(key)) {
    throw preconditionFailed(`The binding key must be an integer: ${erlangBinary(key)}`);
  }
  const weight = Number(key);
  if (weight < 1) throw preconditionFailed("The binding key must be greater than 0");
  if (weight > MAX_WEIGHT) throw preconditionFailed(`The binding key must be at most ${MAX_WEIGHT}`);
  return weight;
}

/** `key` as Erlang's `~p` prints a binary: `<<"abc">>`, or `<<1,2>>` when not printable latin-1. */
function erlangBinary(key: string): string {
  const bytes = utf8.encode(key);
  if (bytes.length === 0) return "<<>>";
  const escapes: Record<number, string> = {
    0x22: '\\"',
    0x5c: "\\\\",
    0x0a: "\\n",
    0x0d: "\\r",
    0x09: "\\t",
    0x0b: "\\v",
    0x08: "\\b",
    0x0c: "\\f",
    0x1b: "\\e",
  };
  for (const b of bytes) {
    if (!((b >= 0x20 && b <= 0x7e) || b >= 0xa0 || escapes[b] !== undefined)) return `<<${bytes.join(",")}>>`;
  }
  let out = "";
  for (let i = 0; i < key.length; i++) out += escapes[key.charCodeAt(i)] ?? key[i];
  return `<<"${out}">>`;
}

// ---- the router ----

type Destination = Binding["destination"];

/** Router for one consistent-hash exchange. */
export class ConsistentHashRouter implements BindableRouter {
  readonly #hashHeader: string | undefined;
  readonly #all: { binding: Binding; weight: number }[] = [];
  /** Ring point positions, ascending. */
  #points = new Uint32Array(0);
  /** For each point, the index in `#destinations` of its binding's destination. */
  #owners = new Uint32Array(0);
  #destinations: Destination[] = [];

  /**
   * @param hashHeader the header to hash instead of the routing key
   */
  constructor(hashHeader?: string) {
    this.#hashHeader = hashHeader;
  }

  route(input: RoutingInput, out: RouteSink): void {
    const points = this.#points;
    const n = points.length;
    if (n === 0) return;
    let h: number;
    const header = this.#hashHeader;
    if (header === undefined) h = hashText(input.routingKey, 0);
    else {
      const headers = input.headers;
      h = hashValue(headers !== undefined && Object.hasOwn(headers, header) ? headers[header] : undefined);
    }
    // The first point at or after h, wrapping round to the first point.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    const d = this.#destinations[this.#owners[lo === n ? 0 : lo]];
    if (d.kind === "queue") out.queue(d.name);
    else out.exchange(d.name);
  }

  bind(binding: Binding): boolean {
    const weight = parseWeight(binding.routingKey);
    for (const b of this.#all) if (sameBinding(b.binding, binding)) return false;
    this.#all.push({ binding, weight });
    this.#rebuild();
    return true;
  }

  unbind(binding: Binding): boolean {
    const i = this.#all.findIndex((b) => sameBinding(b.binding, binding));
    if (i < 0) return false;
    this.#all.splice(i, 1);
    this.#rebuild();
    return true;
  }

  *bindings(): Iterable<Binding> {
    for (const b of this.#all) yield b.binding;
  }

  get size(): number {
    return this.#all.length;
  }

  /**
   * Rebuilds the ring from the bindings. Each point is packed as `hash × 2^21 + rank` in a
   * Float64Array (exact below 2^53) so one numeric sort orders the points, ties broken by a rank
   * that depends only on the destinations, never on the order the bindings came in.
   */
  #rebuild(): void {
    const sorted = this.#all.slice().sort((a, b) => compareDestinations(a.binding, b.binding));
    let total = 0;
    for (const b of sorted) total += b.weight * POINTS_PER_WEIGHT;
    const packed = new Float64Array(total);
    let at = 0;
    for (let rank = 0; rank < sorted.length; rank++) {
      const d = sorted[rank].binding.destination;
      const id = utf8.encode(`${d.kind}:${d.name}`);
      const count = sorted[rank].weight * POINTS_PER_WEIGHT;
      for (let i = 0; i < count; i++) packed[at++] = murmur3(id, id.length, i) * 2 ** 21 + rank;
    }
    packed.sort();
    const points = new Uint32Array(total);
    const owners = new Uint32Array(total);
    for (let i = 0; i < total; i++) {
      const rank = packed[i] % 2 ** 21;
      points[i] = (packed[i] - rank) / 2 ** 21;
      owners[i] = rank;
    }
    this.#points = points;
    this.#owners = owners;
    this.#destinations = sorted.map((b) => b.binding.destination);
  }
}

function compareDestinations(a: Binding, b: Binding): number {
  const x = a.destination;
  const y = b.destination;
  if (x.kind !== y.kind) return x.kind < y.kind ? -1 : 1;
  if (x.name !== y.name) return x.name < y.name ? -1 : 1;
  return a.routingKey < b.routingKey ? -1 : a.routingKey > b.routingKey ? 1 : 0;
}

/**
 * Declare-time check of the exchange arguments, in RabbitMQ's words where it has them.
 *
 * @param args the exchange arguments
 * @throws 406 PRECONDITION_FAILED when `hash-header` and `hash-property` are both set, when
 * either is not a string, or when `hash-property` is set at all (routers cannot see properties)
 */
export function validateArgs(args: FieldTable): void {
  const hasHeader = Object.hasOwn(args, "hash-header");
  const hasProperty = Object.hasOwn(args, "hash-property");
  if (hasHeader && hasProperty) {
    throw preconditionFailed("hash-header and hash-property are mutually exclusive");
  }
  if (hasHeader && typeof args["hash-header"] !== "string") {
    throw preconditionFailed("hash-header must be a string naming the header to hash");
  }
  if (hasProperty) {
    const property = args["hash-property"];
    if (typeof property !== "string") {
      throw preconditionFailed("hash-property must be a string naming the property to hash");
    }
    if (!PROPERTIES.includes(property)) throw preconditionFailed(`Unsupported property: ${property}`);
    throw preconditionFailed(
      `hash-property '${property}' is not supported: in this version an exchange type sees only ` +
        "the routing key and the headers of a message; use hash-header, or the routing key",
    );
  }
}

/**
 * The `x-consistent-hash` exchange type plugin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { consistentHashPlugin } from "./x_consistent_hash.ts";
 * const router = consistentHashPlugin.create({ name: "chx", vhost: "/", effectiveArg: () => undefined });
 * router.bind({ destination: { kind: "queue", name: "q1" }, routingKey: "1", args: {} });
 * router.bind({ destination: { kind: "queue", name: "q2" }, routingKey: "2", args: {} });
 * const queues: string[] = [];
 * const sink = { queue: (name: string) => queues.push(name), exchange: () => {} };
 * router.route({ exchange: "chx", routingKey: "order-17", headers: undefined }, sink);
 * router.route({ exchange: "chx", routingKey: "order-17", headers: undefined }, sink);
 * assert.equal(queues.length, 2);
 * assert.equal(queues[0], queues[1]); // the same key always lands on the same queue
 * ```
 */
export const consistentHashPlugin: ExchangeTypePlugin = {
  name: "x-consistent-hash",
  stage: "exchange",
  create(owner: Owner): BindableRouter {
    const header = owner.effectiveArg("hash-header", "hash-header");
    return new ConsistentHashRouter(typeof header === "string" ? header : undefined);
  },
  validate: validateArgs,
};
