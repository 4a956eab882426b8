/**
 * Message counters for the management API and metrics.
 *
 * Plain monotonic totals, one object for the broker and one per queue, bumped with single
 * field increments on the hot path (no maps, no allocation). Rates are derived by the server
 * from two samples of these totals in fixed windows: the kernel keeps no history.
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

/** Counts one delivery to a consumer, on the broker's and the queue's counters. */
export function countDelivery(
  broker: MessageStats,
  queue: MessageStats,
  noAck: boolean,
  redelivered: boolean,
): void {
  if (noAck) {
    broker.deliverNoAck++;
    queue.deliverNoAck++;
  } else {
    broker.deliver++;
    queue.deliver++;
  }
  if (redelivered) {
    broker.redeliver++;
    queue.redeliver++;
  }
}

/** Counts one basic.get answer (`redelivered` null: get-empty). */
export function countGet(
  broker: MessageStats,
  queue: MessageStats,
  noAck: boolean,
  redelivered: boolean | null,
): void {
  if (redelivered === null) {
    broker.getEmpty++;
    queue.getEmpty++;
    return;
  }
  if (noAck) {
    broker.getNoAck++;
    queue.getNoAck++;
  } else {
    broker.get++;
    queue.get++;
  }
  if (redelivered) {
    broker.redeliver++;
    queue.redeliver++;
  }
}

/** Counts acknowledgements. */
export function countAck(broker: MessageStats, queue: MessageStats, n = 1): void {
  broker.ack += n;
  queue.ack += n;
}
