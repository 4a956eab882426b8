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

import { type BasicProperties, decodeProperties } from "../wire/properties.ts";
import type { Consumer } from "./consumer.ts";
import type { Queue } from "./queue.ts";

/** A published message: routing data, raw properties and body, immutable after publish. */
export class Message {
  #decoded: BasicProperties | undefined;

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

  /**
   * @param message the shared message
   * @param queue the queue holding it
   * @param redelivered whether it was delivered before
   */
  constructor(readonly message: Message, readonly queue: Queue, public redelivered = false) {}
}
