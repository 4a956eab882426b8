/**
 * Message and Delivery: what the broker stores and hands out.
 *
 * A `Message` is created once per publish and shared by every queue it reaches (fanout to ten
 * queues = one body, ten references). Its properties stay the raw bytes the publisher sent and
 * are decoded only when something asks for them. A `Delivery` is one queue's hold on a message:
 * it sits in the queue while ready and in its channel's unacked list while delivered.
 *
 * @module
 */

import { preconditionFailed } from "../errors.ts";
import { type FieldTable, fieldTypeName, int64 } from "../wire/field_table.ts";
import { type BasicProperties, decodeProperties, writeProperties } from "../wire/properties.ts";
import { Writer } from "../wire/writer.ts";
import type { Consumer } from "./consumer.ts";
import type { Queue } from "./queue.ts";

/** A published message: routing data, raw properties and body, immutable after publish. */
export class Message {
  #decoded: BasicProperties | undefined;
  /** Per-message TTL in ms from its `expiration` property; Infinity without one. */
  ttl = Infinity;
  /** Where the store wrote it (see `MessageStore.write`); -1 while it lives only in memory. */
  location = -1;
  /** Length of its stored record. */
  recordLength = 0;
  /** Set when a durable queue's journal took it: a confirm then waits for the store's sync. */
  journaled = false;

  /**
   * @param exchange the exchange it was published to
   * @param routingKey the routing key it was published with
   * @param rawProperties property flags + list, as received (owned, not a view of a socket chunk)
   * @param body the body (owned)
   */
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly rawProperties: Uint8Array,
    readonly body: Uint8Array,
  ) {}

  /**
   * delivery-mode 2: kept across restarts when it sits in a durable queue. Read from the raw
   * properties (skipping content-type, content-encoding and headers) without decoding them.
   */
  get persistent(): boolean {
    const b = this.rawProperties;
    const flags = b[0];
    if ((flags & 0x10) === 0) return false;
    let p = 2;
    if (flags & 0x80) p += 1 + b[p];
    if (flags & 0x40) p += 1 + b[p];
    if (flags & 0x20) p += 4 + ((b[p] << 24 | b[p + 1] << 16 | b[p + 2] << 8 | b[p + 3]) >>> 0);
    return b[p] === 2;
  }

  /** Decoded properties (decoded once, on first use). */
  get properties(): BasicProperties {
    return this.#decoded ??= decodeProperties(this.rawProperties);
  }
}

/** One queue's hold on a message. */
export class Delivery {
  /** Delivery tag on the channel it was delivered on; 0 while ready in the queue. */
  tag = 0;
  /** The consumer it went to; null while ready or when fetched with basic.get. */
  consumer: Consumer | null = null;
  /** Its `priority` property (0 without one), read when it enters a priority queue. */
  get priority(): number {
    return (this.message.rawProperties[0] & 0x08) !== 0 ? this.message.properties.priority ?? 0 : 0;
  }
  /** When it expires (ms, coarse broker time); Infinity without a TTL. */
  expiresAt = Infinity;
  /** True while it sits in its queue's ready list (false once delivered, expired or dropped). */
  ready = false;

  /** Times it came back to its queue unacknowledged (nack/reject with requeue, channel closed). */
  returns = 0;
  /** When it was last delivered to a consumer (ms, coarse broker time), for `x-consumer-timeout`. */
  deliveredAt = 0;
  /** Where its record is when the queue's journal holds it (the queue is durable, the message
   * persistent); -1 otherwise. Kept here because `message` may be replaced by a copy. */
  location = -1;
  /** Length of that record. */
  recordLength = 0;

  /**
   * @param message the message (replaced by a copy carrying `x-delivery-count` when it returns
   *   to a queue with a delivery limit)
   * @param queue the queue holding it
   * @param redelivered whether it was delivered before
   */
  constructor(public message: Message, readonly queue: Queue, public redelivered = false) {}
}

/** True when raw properties carry a headers table (flag bit 13): only then are they decoded. */
export function hasHeaders(rawProperties: Uint8Array): boolean {
  return (rawProperties[0] & 0x20) !== 0;
}

/**
 * The extra routing keys of sender-selected distribution: the string elements of the `CC` and
 * `BCC` header arrays, after the message's own key. Returns null when neither header is set.
 * A CC or BCC that is not an array is refused as RabbitMQ refuses it (406).
 */
export function senderSelectedKeys(routingKey: string, headers: FieldTable): string[] | null {
  const cc = headers.CC;
  const bcc = headers.BCC;
  if (cc === undefined && bcc === undefined) return null;
  const keys = [routingKey];
  for (const [name, value] of [["CC", cc], ["BCC", bcc]] as const) {
    if (value === undefined) continue;
    if (!Array.isArray(value)) {
      throw preconditionFailed(
        `invalid message: {unacceptable_type_in_header,"${name}",${fieldTypeName(value)}}`,
      );
    }
    for (const k of value) if (typeof k === "string") keys.push(k);
  }
  return keys;
}

/** The same message with the BCC header removed (BCC recipients stay hidden from consumers). */
export function withoutBcc(message: Message): Message {
  const props = { ...message.properties, headers: { ...message.properties.headers } };
  delete props.headers.BCC;
  const w = new Writer(message.rawProperties.length);
  writeProperties(w, props);
  return new Message(message.exchange, message.routingKey, w.bytes.slice(0, w.offset), message.body);
}

/** What a publish routes with, after sender-selected distribution (see {@link senderSelected}). */
export interface SenderSelected {
  /** The message's own routing key, or it followed by its CC and BCC keys. */
  readonly keys: string | string[];
  /** Its headers (for a headers exchange), BCC removed; undefined without headers. */
  readonly headers: FieldTable | undefined;
  /** The message as queues keep it: the BCC header removed. */
  readonly message: Message;
}

/**
 * Sender-selected distribution, as RabbitMQ applies it to every publish (AMQP or HTTP): a
 * message with `CC` / `BCC` headers routes with those keys too, and loses its `BCC` header.
 * Headers are decoded only when the message carries some; callers on the hot path check
 * {@link hasHeaders} first and route a message without headers by its own key.
 * @param message the published message
 * @returns the keys and headers to route with, and the message to enqueue
 * @throws AmqpError PRECONDITION_FAILED when CC or BCC is not an array
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Message, senderSelected } from "./message.ts";
 * import { Writer } from "../wire/writer.ts";
 * import { writeProperties } from "../wire/properties.ts";
 * const w = new Writer(64);
 * writeProperties(w, { headers: { CC: ["b"], BCC: ["c"] } });
 * const r = senderSelected(new Message("x", "a", w.written().slice(), new Uint8Array()));
 * assert.deepEqual(r.keys, ["a", "b", "c"]);
 * assert.deepEqual(r.message.properties.headers, { CC: ["b"] });
 * ```
 */
export function senderSelected(message: Message): SenderSelected {
  if (!hasHeaders(message.rawProperties)) return { keys: message.routingKey, headers: undefined, message };
  let headers = message.properties.headers;
  const extra = headers && senderSelectedKeys(message.routingKey, headers);
  if (!extra) return { keys: message.routingKey, headers, message };
  if (headers!.BCC !== undefined) {
    message = withoutBcc(message);
    headers = message.properties.headers;
  }
  return { keys: extra, headers, message };
}

/** The message's routing keys: its own and its CC header's (BCC is gone by the time it is stored). */
export function routingKeysOf(message: Message): string[] {
  const keys = [message.routingKey];
  const cc = hasHeaders(message.rawProperties) ? message.properties.headers?.CC : undefined;
  if (Array.isArray(cc)) { for (const k of cc) if (typeof k === "string") keys.push(k); }
  return keys;
}

/** Where and why a message died, for its `x-death` headers. */
export interface Death {
  readonly queue: string;
  readonly reason: string;
  /** Coarse time, ms. */
  readonly now: number;
  /** The dead-letter exchange and routing key the message goes on with. */
  readonly exchange: string;
  readonly routingKey: string | undefined;
}

/**
 * The message as it leaves a queue for its dead-letter exchange, with RabbitMQ's headers:
 * `x-death` (one entry per queue and reason, newest first, its `count` incremented when the
 * same queue and reason come round again), `x-first-death-*` (set once) and `x-last-death-*`.
 * A per-message `expiration` is removed and kept in the entry as `original-expiration`.
 */
export function withDeath(message: Message, death: Death): Message {
  const props: BasicProperties = { ...message.properties };
  const headers: FieldTable = { ...(props.headers ?? {}) };
  const deaths = Array.isArray(headers["x-death"]) ? [...headers["x-death"] as FieldTable[]] : [];
  const time = new Date(Math.floor(death.now / 1000) * 1000);
  const same = deaths.findIndex((d) => d.queue === death.queue && d.reason === death.reason);
  if (same >= 0) {
    const old = deaths[same];
    deaths.splice(same, 1);
    // RabbitMQ keeps the entry's first time, exchange and routing keys; only the count moves.
    deaths.unshift({ ...old, count: int64(Number(old.count?.valueOf() ?? 0) + 1) });
  } else {
    const entry: FieldTable = {
      count: int64(1),
      reason: death.reason,
      queue: death.queue,
      time,
      exchange: message.exchange,
      "routing-keys": routingKeysOf(message),
    };
    if (props.expiration !== undefined) entry["original-expiration"] = props.expiration;
    deaths.unshift(entry);
  }
  headers["x-death"] = deaths;
  if (headers["x-first-death-reason"] === undefined) {
    headers["x-first-death-reason"] = death.reason;
    headers["x-first-death-queue"] = death.queue;
    headers["x-first-death-exchange"] = message.exchange;
  }
  headers["x-last-death-reason"] = death.reason;
  headers["x-last-death-queue"] = death.queue;
  headers["x-last-death-exchange"] = message.exchange;
  props.headers = headers;
  delete props.expiration;
  const w = new Writer(message.rawProperties.length + 256);
  writeProperties(w, props);
  return new Message(
    death.exchange,
    death.routingKey ?? message.routingKey,
    w.bytes.slice(0, w.offset),
    message.body,
  );
}

/** True when raw properties carry an `expiration` (flag bit 8). */
export function hasExpiration(rawProperties: Uint8Array): boolean {
  return (rawProperties[0] & 0x01) !== 0;
}

/**
 * A per-message `expiration` in ms, checked as RabbitMQ checks it (a decimal integer, no sign,
 * nothing after it); throws 406 with RabbitMQ's wording otherwise.
 */
export function parseExpiration(expiration: string): number {
  const m = /^[+-]?\d+/.exec(expiration);
  if (m === null) throw preconditionFailed(`invalid expiration '${expiration}': no_integer`);
  const rest = expiration.slice(m[0].length);
  if (rest !== "") {
    throw preconditionFailed(`invalid expiration '${expiration}': {leftover_string,"${rest}"}`);
  }
  const n = Number(m[0]);
  if (n < 0) throw preconditionFailed(`invalid expiration '${expiration}': {value_negative,${n}}`);
  return n;
}

/** The same message with an `x-delivery-count` header (how often it came back to its queue). */
export function withDeliveryCount(message: Message, count: number): Message {
  const props: BasicProperties = { ...message.properties };
  props.headers = { ...(props.headers ?? {}), "x-delivery-count": int64(count) };
  const w = new Writer(message.rawProperties.length + 32);
  writeProperties(w, props);
  const copy = new Message(message.exchange, message.routingKey, w.bytes.slice(0, w.offset), message.body);
  copy.ttl = message.ttl;
  return copy;
}

/** The same message with its `reply-to` property replaced (direct reply-to rewrites it). */
export function withReplyTo(message: Message, replyTo: string): Message {
  const w = new Writer(message.rawProperties.length + replyTo.length + 8);
  writeProperties(w, { ...message.properties, replyTo });
  const copy = new Message(message.exchange, message.routingKey, w.bytes.slice(0, w.offset), message.body);
  copy.ttl = message.ttl;
  return copy;
}

/** True when raw properties carry a `reply-to` (flag bit 9). */
export function hasReplyTo(rawProperties: Uint8Array): boolean {
  return (rawProperties[0] & 0x02) !== 0;
}
