/**
 * The management API's JSON shapes: each kernel object as RabbitMQ's management plugin shows
 * it, with the same field names (checked against RabbitMQ 3.10). Fields RabbitMQ reports that
 * Warren has no equivalent for (Erlang garbage collection, reductions…) are left out.
 *
 * @module
 */

import {
  addStats,
  type Broker,
  type Channel,
  type Connection,
  type Consumer,
  type Exchange,
  MessageStats,
  type Queue,
  type VHost,
} from "../../core/mod.ts";
import { fieldTableToJson, type JsonTable } from "../definitions.ts";
import { counterRates, type DepthStats, depthStats, messageStats } from "./rates.ts";
import type { Row } from "./_util.ts";

/** What every formatter needs besides the object. */
export interface FormatContext {
  readonly broker: Broker;
  /** Erlang-style node name, `warren@host`. */
  readonly node: string;
  /** Wall-clock now, ms. */
  readonly now: number;
}

/**
 * Unacknowledged deliveries of a queue: held by its consumers, by consumers cancelled since,
 * and fetched with basic.get.
 */
export function queueUnacked(q: Queue): number {
  return q.unackedCount;
}

/**
 * A time as RabbitMQ 3.10 writes `idle_since`: ISO 8601 in UTC with milliseconds and an explicit
 * offset, `2026-11-25T23:52:41.776+00:00`.
 */
export function rabbitTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "+00:00");
}

/** A queue, as `GET /api/queues` lists it. */
export function formatQueue(q: Queue, ctx: FormatContext): Row {
  const ready = q.messageCount;
  const unacked = q.unackedCount;
  const consumers = q.consumerCount;
  const sac = q.singleActiveConsumer && consumers > 0 ? q.consumers[0].tag : null;
  const exclusiveTag = q.hasExclusiveConsumer ? q.consumers[0].tag : null;
  return {
    arguments: fieldTableToJson(q.options.args),
    auto_delete: q.options.autoDelete,
    consumer_capacity: consumers > 0 ? 1.0 : 0,
    consumer_utilisation: consumers > 0 ? 1.0 : 0,
    consumers,
    durable: q.options.durable,
    effective_policy_definition: q.policy ? { ...q.policy.definition } : {},
    exclusive: q.options.exclusive,
    exclusive_consumer_tag: exclusiveTag,
    head_message_timestamp: null,
    // As RabbitMQ: only while idle (consumers or not), the time it went idle.
    ...(q.idleSince !== 0 ? { idle_since: rabbitTimestamp(q.idleSince) } : {}),
    message_bytes: q.messageBytes + q.unackedBytes,
    message_bytes_ready: q.messageBytes,
    message_bytes_unacknowledged: q.unackedBytes,
    message_stats: messageStats(q.stats, ctx.now),
    // Where the messages are: in memory, or paged out to the store (RabbitMQ's field names).
    messages_ram: ready - q.pagedCount + unacked,
    messages_ready_ram: ready - q.pagedCount,
    messages_unacknowledged_ram: unacked,
    messages_paged_out: q.pagedCount,
    message_bytes_paged_out: q.pagedBytes,
    message_bytes_ram: q.messageBytes - q.pagedBytes + q.unackedBytes,
    messages_persistent: q.persistentCount,
    ...depthStats(q, ready, unacked, ctx.now),
    name: q.name,
    node: ctx.node,
    operator_policy: null,
    policy: q.policy?.name ?? null,
    single_active_consumer_tag: sac,
    state: "running",
    type: "classic",
    vhost: q.vhost,
  };
}

/** An exchange, as `GET /api/exchanges` lists it (the default exchange is named ""). */
export function formatExchange(e: Exchange, _ctx: FormatContext): Row {
  return {
    arguments: fieldTableToJson(e.options.args),
    auto_delete: e.options.autoDelete,
    durable: e.options.durable,
    internal: e.options.internal,
    name: e.name,
    // RabbitMQ shows `policy` on an exchange only when one applies.
    ...(e.policy ? { policy: e.policy.name } : {}),
    type: e.type,
    user_who_performed_action: e.name === "" || e.name.startsWith("amq.") ? "rmq-internal" : "",
    vhost: e.vhost,
  };
}

/** RabbitMQ's `quote_plus` of a routing key, with `~` escaped as in a binding's properties key. */
function quoteBindingKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, "+").replace(/~/g, "%7E").replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** A short stable hash of binding arguments, for the properties key. */
function argsHash(args: JsonTable): string {
  const text = JSON.stringify(args, Object.keys(args).sort());
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}

/**
 * The properties key that names a binding in URLs (`/api/bindings/…/q/:queue/:props`): the
 * quoted routing key, with `~` and a hash of the arguments when there are any; `~` alone for an
 * empty key without arguments (RabbitMQ's `pack_binding_props`).
 */
export function propertiesKey(routingKey: string, args: JsonTable): string {
  const hasArgs = Object.keys(args).length > 0;
  if (routingKey === "" && !hasArgs) return "~";
  return hasArgs ? `${quoteBindingKey(routingKey)}~${argsHash(args)}` : quoteBindingKey(routingKey);
}

/** One binding in RabbitMQ's JSON shape. */
export interface BindingRow extends Row {
  source: string;
  vhost: string;
  destination: string;
  destination_type: "queue" | "exchange";
  routing_key: string;
  arguments: JsonTable;
  properties_key: string;
}

/** Every binding of a vhost, the default exchange's implicit ones included (as RabbitMQ lists them). */
export function vhostBindingRows(v: VHost): BindingRow[] {
  const out: BindingRow[] = [];
  for (const ex of v.exchanges.values()) {
    for (const b of ex.router.bindings()) {
      const args = fieldTableToJson(b.args);
      out.push({
        source: ex.name,
        vhost: v.name,
        destination: b.destination.name,
        destination_type: b.destination.kind,
        routing_key: b.routingKey,
        arguments: args,
        properties_key: propertiesKey(b.routingKey, args),
      });
    }
  }
  return out;
}

/** A connection's peer and name parts. */
function peer(c: Connection): { peer_host: string; peer_port: number } {
  return { peer_host: c.transport.remoteAddress, peer_port: c.transport.remotePort };
}

const STATES: Record<string, string> = {
  header: "starting",
  start: "starting",
  tune: "tuning",
  "open-wait": "opening",
  open: "running",
  closing: "closing",
  "closed-by-peer": "closing",
  closed: "closed",
};

/** Connection options known to the server (its AMQP listener) for the connection rows. */
export interface ListenerInfo {
  readonly host: string;
  readonly port: number;
}

/** A connection's socket counters, read when its rate window opens or closes. */
function socketBytes(c: Connection): number[] {
  return [c.recvOct, c.sendOct];
}

/** A connection, as `GET /api/connections` lists it. */
export function formatConnection(c: Connection, ctx: FormatContext, listener?: ListenerInfo): Row {
  const rates = counterRates(c, () => socketBytes(c), ctx.now);
  return {
    auth_mechanism: "PLAIN",
    channel_max: c.channelMax,
    channels: c.channels.size,
    client_properties: fieldTableToJson(c.clientProperties),
    connected_at: c.connectedAt,
    frame_max: c.frameMax,
    host: listener?.host ?? "",
    name: c.name,
    node: ctx.node,
    ...peer(c),
    port: listener?.port ?? 0,
    protocol: "AMQP 0-9-1",
    recv_cnt: c.recvCnt,
    recv_oct: c.recvOct,
    recv_oct_details: { rate: rates[0] },
    send_cnt: c.sendCnt,
    send_oct: c.sendOct,
    send_oct_details: { rate: rates[1] },
    ssl: false,
    state: STATES[c.state] ?? c.state,
    timeout: c.heartbeat,
    type: "network",
    user: c.user?.name ?? "",
    user_who_performed_action: c.user?.name ?? "",
    vhost: c.vhost?.name ?? "",
  };
}

/** A channel's name, as RabbitMQ forms it: `<connection name> (<number>)`. */
export function channelName(c: Connection, ch: Channel): string {
  return `${c.name} (${ch.id})`;
}

/** A channel, as `GET /api/channels` lists it. */
export function formatChannel(c: Connection, ch: Channel, ctx: FormatContext): Row {
  const uncommitted = ch.uncommitted;
  return {
    acks_uncommitted: uncommitted.acks,
    confirm: ch.confirmMode,
    connection_details: { name: c.name, ...peer(c) },
    consumer_count: ch.consumers.size,
    global_prefetch_count: ch.channelPrefetch,
    message_stats: messageStats(ch.stats, ctx.now),
    messages_unacknowledged: ch.unackedCount,
    messages_uncommitted: uncommitted.messages,
    messages_unconfirmed: ch.unconfirmedCount,
    name: channelName(c, ch),
    node: ctx.node,
    number: ch.id,
    prefetch_count: ch.consumerPrefetch,
    state: "running",
    transactional: ch.transactional,
    user: c.user?.name ?? "",
    user_who_performed_action: c.user?.name ?? "",
    vhost: c.vhost?.name ?? "",
  };
}

/** A consumer, as `GET /api/consumers` lists it. */
export function formatConsumer(c: Connection, ch: Channel, consumer: Consumer, ctx: FormatContext): Row {
  return {
    arguments: fieldTableToJson(consumer.options.args),
    ack_required: !consumer.options.noAck,
    active: true,
    activity_status: "up",
    channel_details: {
      connection_name: c.name,
      name: channelName(c, ch),
      node: ctx.node,
      number: ch.id,
      ...peer(c),
      user: c.user?.name ?? "",
    },
    consumer_tag: consumer.tag,
    exclusive: consumer.options.exclusive,
    prefetch_count: consumer.options.prefetch,
    queue: { name: consumer.queue.name, vhost: consumer.queue.vhost },
  };
}

/**
 * Totals of ready and unacked messages over some queues, with their rates of change (see
 * `depthStats`; `key` is the object the rate window belongs to: a vhost, the broker).
 */
export function queueTotals(queues: Iterable<Queue>, key: object, now: number): DepthStats {
  let ready = 0;
  let unacked = 0;
  for (const q of queues) {
    ready += q.messageCount;
    unacked += q.unackedCount;
  }
  return depthStats(key, ready, unacked, now);
}

/**
 * A vhost's message counters: those of its closed channels and the management API's (kept by
 * the vhost), plus its open channels', summed now.
 */
export function vhostStats(v: VHost, broker: Broker): MessageStats {
  const sum = new MessageStats();
  addStats(sum, v.stats);
  for (const c of broker.connections) {
    if (c.vhost !== v) continue;
    for (const ch of c.channels.values()) addStats(sum, ch.stats);
  }
  return sum;
}

/** A vhost, as `GET /api/vhosts` lists it. */
export function formatVHost(v: VHost, ctx: FormatContext): Row {
  return {
    cluster_state: { [ctx.node]: "running" },
    default_queue_type: "classic",
    description: v.name === "/" ? "Default virtual host" : "",
    message_stats: messageStats(vhostStats(v, ctx.broker), ctx.now, v),
    metadata: { description: v.name === "/" ? "Default virtual host" : "", tags: [] },
    name: v.name,
    tags: [],
    tracing: false,
    ...queueTotals(v.queues.values(), v, ctx.now),
  };
}
