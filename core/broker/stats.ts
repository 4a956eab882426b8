/**
 * Message counters for the management API and metrics.
 *
 * Plain monotonic totals, one object for the broker, one per queue and one per channel, bumped
 * with single field increments on the hot path (no maps, no allocation). A vhost's totals are
 * those of its closed channels (folded in when a channel closes) plus its open channels', summed
 * when read, so the hot path pays for the channel's counter only. Rates are derived by the
 * server from two samples of these totals in fixed windows: the kernel keeps no history.
 *
 * @module
 */

/** Monotonic message counters, named after RabbitMQ's `message_stats` fields. */
export class MessageStats {
  /** Messages published (broker) or enqueued (queue: routed, dead-lettered or released into it). */
  publish = 0;
  /** Deliveries to consumers in manual-ack mode. */
  deliver = 0;
  /** Deliveries to consumers in no-ack mode. */
  deliverNoAck = 0;
  /** basic.get answered with a message, manual-ack mode. */
  get = 0;
  /** basic.get answered with a message, no-ack mode. */
  getNoAck = 0;
  /** basic.get answered with get-empty. */
  getEmpty = 0;
  /** Deliveries acknowledged. */
  ack = 0;
  /** Deliveries (or gets) of messages delivered before. */
  redeliver = 0;
  /** Mandatory publishes routed nowhere (basic.return). */
  returnUnroutable = 0;
  /** Non-mandatory publishes routed nowhere (dropped). */
  dropUnroutable = 0;
  /** Publisher confirms (basic.ack) sent. */
  confirm = 0;
}

/**
 * Counts one delivery to a consumer, on the broker's, the queue's and the channel's counters.
 * Positional parameters, not an options object: called once per delivery.
 *
 * @internal
 */
export function countDelivery(
  broker: MessageStats,
  queue: MessageStats,
  channel: MessageStats,
  noAck: boolean,
  redelivered: boolean,
): void {
  if (noAck) {
    broker.deliverNoAck++;
    queue.deliverNoAck++;
    channel.deliverNoAck++;
  } else {
    broker.deliver++;
    queue.deliver++;
    channel.deliver++;
  }
  if (redelivered) {
    broker.redeliver++;
    queue.redeliver++;
    channel.redeliver++;
  }
}

/**
 * Counts one basic.get answer (`redelivered` null: get-empty) on the broker's, the queue's and
 * the channel's counters.
 *
 * @internal
 */
export function countGet(
  broker: MessageStats,
  queue: MessageStats,
  channel: MessageStats,
  noAck: boolean,
  redelivered: boolean | null,
): void {
  if (redelivered === null) {
    broker.getEmpty++;
    queue.getEmpty++;
    channel.getEmpty++;
    return;
  }
  if (noAck) {
    broker.getNoAck++;
    queue.getNoAck++;
    channel.getNoAck++;
  } else {
    broker.get++;
    queue.get++;
    channel.get++;
  }
  if (redelivered) {
    broker.redeliver++;
    queue.redeliver++;
    channel.redeliver++;
  }
}

/** Counts one acknowledgement on the broker's, the queue's and the channel's counters. @internal */
export function countAck(broker: MessageStats, queue: MessageStats, channel: MessageStats): void {
  broker.ack++;
  queue.ack++;
  channel.ack++;
}

/**
 * Adds every counter of `from` to `into` (a closed channel's totals into its vhost's).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addStats, MessageStats } from "./stats.ts";
 * const into = new MessageStats();
 * const from = new MessageStats();
 * from.publish = 3;
 * addStats(into, from);
 * addStats(into, from);
 * assert.equal(into.publish, 6);
 * ```
 */
export function addStats(into: MessageStats, from: MessageStats): void {
  into.publish += from.publish;
  into.deliver += from.deliver;
  into.deliverNoAck += from.deliverNoAck;
  into.get += from.get;
  into.getNoAck += from.getNoAck;
  into.getEmpty += from.getEmpty;
  into.ack += from.ack;
  into.redeliver += from.redeliver;
  into.returnUnroutable += from.returnUnroutable;
  into.dropUnroutable += from.dropUnroutable;
  into.confirm += from.confirm;
}

/**
 * Object churn, RabbitMQ's `churn_rates` of `/api/overview`: monotonic totals, each bumped once
 * per event (never per message). Counted as RabbitMQ 3.10 counts them: a connection is created
 * at connection.open but closed whenever a socket ends (so a client that fails to log in counts
 * a close only); a queue is declared by each non-passive queue.declare, created when the
 * declare made it, deleted however it goes (delete, auto-delete, exclusive owner gone,
 * `x-expires`, vhost deleted).
 */
export class ChurnStats {
  /** Connections opened (connection.open accepted). */
  connectionCreated = 0;
  /** Client sockets finished, opened or not. */
  connectionClosed = 0;
  /** Channels opened. */
  channelCreated = 0;
  /** Channels closed, by either side or with their connection. */
  channelClosed = 0;
  /** Non-passive queue.declare (and management PUT) that succeeded. */
  queueDeclared = 0;
  /** Queues created. */
  queueCreated = 0;
  /** Queues deleted. */
  queueDeleted = 0;
}
