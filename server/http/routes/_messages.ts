/**
 * Messages over HTTP: publish through an exchange, and get from a queue, as RabbitMQ's
 * management API does (`/api/exchanges/:vhost/:name/publish`, `/api/queues/:vhost/:name/get`).
 *
 * @module
 */

import {
  AmqpError,
  type BasicProperties,
  type Broker,
  type Delivery,
  type Exchange,
  Message,
  MessageStats,
  type Queue,
  senderSelected,
  type User,
  type VHost,
  writeProperties,
  Writer,
} from "../../../core/mod.ts";
import { parseExpiration } from "../../../core/broker/message.ts";
import { fieldTableToJson, jsonToFieldTable, type JsonValue } from "../../definitions.ts";
import { badRequest } from "../_util.ts";

/** Encodes basic properties as the raw property bytes a Message holds. */
export function encodeProperties(p: BasicProperties): Uint8Array {
  const w = new Writer(64);
  writeProperties(w, p);
  return w.written().slice();
}

/** A delivery left its queue for good (closes its journal entry when the queue has a store). */
export function settle(q: Queue, d: Delivery): void {
  (q as unknown as { settled?(d: Delivery): void }).settled?.(d);
}

const PROPERTY_NAMES: readonly [string, keyof BasicProperties, "string" | "number" | "table"][] = [
  ["content_type", "contentType", "string"],
  ["content_encoding", "contentEncoding", "string"],
  ["headers", "headers", "table"],
  ["delivery_mode", "deliveryMode", "number"],
  ["priority", "priority", "number"],
  ["correlation_id", "correlationId", "string"],
  ["reply_to", "replyTo", "string"],
  ["expiration", "expiration", "string"],
  ["message_id", "messageId", "string"],
  ["timestamp", "timestamp", "number"],
  ["type", "type", "string"],
  ["user_id", "userId", "string"],
  ["app_id", "appId", "string"],
  ["cluster_id", "clusterId", "string"],
];

/** The `properties` object of a publish request, as basic properties (400 on a wrong type). */
export function propertiesFromJson(json: unknown): BasicProperties {
  if (json === undefined || json === null) return {};
  if (typeof json !== "object" || Array.isArray(json)) {
    if (Array.isArray(json) && json.length === 0) return {}; // RabbitMQ's empty properties
    throw badRequest("properties must be an object");
  }
  const o = json as Record<string, unknown>;
  const p: Record<string, unknown> = {};
  for (const [name, field, kind] of PROPERTY_NAMES) {
    const v = o[name];
    if (v === undefined || v === null) continue;
    if (kind === "table") {
      try {
        p[field] = jsonToFieldTable(v, "headers");
      } catch (err) {
        throw badRequest((err as Error).message);
      }
    } else if (kind === "number") {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
        throw badRequest(`${name} must be an integer`);
      }
      if ((name === "delivery_mode" || name === "priority") && v > 255) {
        throw badRequest(`${name} must be at most 255`);
      }
      p[field] = v;
    } else {
      if (typeof v !== "string") throw badRequest(`${name} must be a string`);
      p[field] = v;
    }
  }
  return p as BasicProperties;
}

/** Properties as RabbitMQ's get answers show them: `[]` when there are none (its quirk). */
export function propertiesToJson(p: BasicProperties): Record<string, JsonValue> | [] {
  const out: Record<string, JsonValue> = {};
  for (const [name, field] of PROPERTY_NAMES) {
    const v = p[field];
    if (v === undefined) continue;
    out[name] = field === "headers"
      ? fieldTableToJson(v as NonNullable<BasicProperties["headers"]>)
      : v as JsonValue;
  }
  return Object.keys(out).length === 0 ? [] : out;
}

/** A kernel refusal as RabbitMQ's HTTP publish reports it: 400 with `CODE NAME - text`. */
function refused(err: unknown): never {
  if (err instanceof AmqpError) throw badRequest(`${err.code} ${err.message}`);
  throw err;
}

/**
 * Publishes a message through an exchange as RabbitMQ's management API does: as a channel
 * would, with sender-selected distribution (`CC` / `BCC` headers, through the kernel's
 * {@link senderSelected}), and with `mandatory` set, so an unroutable message counts as
 * returned (`return_unroutable`) and the answer is `{"routed": false}`. A `user_id` other than
 * the caller's is refused unless the caller is an impersonator. Returns whether some queue (or
 * a delayed-delivery hold) took the message.
 */
export function publish(
  broker: Broker,
  vhost: VHost,
  exchange: Exchange,
  options: { routingKey: string; properties: BasicProperties; body: Uint8Array; user: User },
): boolean {
  const { properties, user } = options;
  if (
    properties.userId !== undefined && properties.userId !== user.name && !user.tags.includes("impersonator")
  ) {
    refused(
      new AmqpError(
        "PRECONDITION_FAILED",
        `user_id property set to '${properties.userId}' but authenticated user was '${user.name}'`,
      ),
    );
  }
  let message = new Message(exchange.name, options.routingKey, encodeProperties(properties), options.body);
  if (properties.expiration !== undefined) {
    try {
      message.ttl = parseExpiration(properties.expiration);
    } catch (err) {
      throw badRequest((err as Error).message.replace(/^[A-Z_]+ - /, ""));
    }
  }
  let selected;
  try {
    selected = senderSelected(message);
  } catch (err) {
    refused(err);
  }
  message = selected.message;
  const queues = [...vhost.route(exchange, selected.keys, selected.headers)];
  const held = vhost.holdDelayed(message, selected.keys);
  broker.stats.publish++;
  vhost.stats.publish++;
  if (queues.length === 0 && held === 0) {
    broker.stats.returnUnroutable++;
    vhost.stats.returnUnroutable++;
  }
  for (const q of queues) q.enqueue(message);
  return queues.length > 0 || held > 0;
}

/** What `/api/queues/:vhost/:name/get` does with the messages it takes. */
export type AckMode =
  | "ack_requeue_true"
  | "ack_requeue_false"
  | "reject_requeue_true"
  | "reject_requeue_false";

/** One message as a get answer shows it. */
export interface GotMessage {
  payload_bytes: number;
  redelivered: boolean;
  exchange: string;
  routing_key: string;
  message_count: number;
  properties: Record<string, JsonValue> | [];
  payload: string;
  payload_encoding: "string" | "base64";
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * Takes up to `count` messages from the head of the queue; with a requeueing mode they all go
 * back (marked redelivered) once taken, so each is seen once; `reject_requeue_false`
 * dead-letters them (reason `rejected`).
 */
export function getMessages(
  broker: Broker,
  q: Queue,
  count: number,
  mode: AckMode,
  encoding: "auto" | "base64",
  truncate: number | undefined,
): GotMessage[] {
  const taken: Delivery[] = [];
  const out: GotMessage[] = [];
  const requeue = mode === "ack_requeue_true" || mode === "reject_requeue_true";
  // The vhost's counters: RabbitMQ counts these on the API's own channel, which is in the vhost.
  const vstats = broker.vhosts.get(q.vhost)?.stats ?? new MessageStats();
  q.touch();
  for (let i = 0; i < count; i++) {
    const d = q.take();
    if (d === undefined) {
      if (i === 0) {
        broker.stats.getEmpty++;
        q.stats.getEmpty++;
        vstats.getEmpty++;
      }
      break;
    }
    taken.push(d);
    broker.stats.get++;
    q.stats.get++;
    vstats.get++;
    if (d.redelivered) {
      broker.stats.redeliver++;
      q.stats.redeliver++;
      vstats.redeliver++;
    }
    const m = d.message;
    let body = m.body;
    if (truncate !== undefined && body.length > truncate) body = body.subarray(0, truncate);
    let payload: string;
    let payloadEncoding: "string" | "base64" = "base64";
    if (encoding === "auto") {
      try {
        payload = new TextDecoder("utf-8", { fatal: true }).decode(body);
        payloadEncoding = "string";
      } catch {
        payload = base64(body);
      }
    } else payload = base64(body);
    out.push({
      payload_bytes: m.body.length,
      redelivered: d.redelivered,
      exchange: m.exchange,
      routing_key: m.routingKey,
      message_count: q.messageCount,
      properties: propertiesToJson(m.properties),
      payload,
      payload_encoding: payloadEncoding,
    });
  }
  if (requeue) {
    for (const d of taken) (q as unknown as { markDelivered?(d: Delivery): void }).markDelivered?.(d);
    q.requeue(taken);
  } else {
    for (const d of taken) {
      if (mode === "reject_requeue_false") q.deadLetter(d.message, "rejected");
      else {
        broker.stats.ack++;
        q.stats.ack++;
        vstats.ack++;
      }
      settle(q, d);
    }
  }
  return out;
}
