/**
 * Consumer: a subscription of one channel to one queue.
 *
 * Owns the consumer's own prefetch window; the channel decides whether it can take more
 * (flow, socket congestion, channel-wide prefetch) and writes the deliveries.
 *
 * @module
 */

import { type FieldTable, TypedField } from "../wire/field_table.ts";
import type { Delivery } from "./message.ts";
import type { Queue } from "./queue.ts";

/** What a queue needs from the channel a consumer lives on. */
export interface ConsumerChannel {
  /** True when the consumer may receive one more message now. */
  canDeliver(consumer: Consumer): boolean;
  /** Sends the delivery to the consumer (assigns its tag, tracks it as unacked unless no-ack). */
  deliver(consumer: Consumer, delivery: Delivery): void;
  /** The queue went away: forget the consumer and tell the client (basic.cancel). */
  cancelledByBroker(consumer: Consumer): void;
}

/** A subscription. */
export class Consumer {
  /** Messages delivered to this consumer and not yet acknowledged. */
  unacked = 0;

  /**
   * @param tag consumer tag, unique on its channel
   * @param queue the queue consumed from
   * @param channel the channel that receives deliveries
   * @param options consume flags and the per-consumer prefetch (0 = unlimited)
   */
  constructor(
    readonly tag: string,
    readonly queue: Queue,
    readonly channel: ConsumerChannel,
    readonly options: {
      readonly noAck: boolean;
      readonly exclusive: boolean;
      readonly prefetch: number;
      readonly args: FieldTable;
    },
  ) {}

  /** `x-priority` from basic.consume arguments: higher goes first while it has credit. @default 0 */
  get priority(): number {
    const p = this.options.args["x-priority"];
    const n = typeof p === "number" ? p : p instanceof TypedField ? p.valueOf() : 0;
    return Number.isFinite(n) ? n : 0;
  }

  /** True when the consumer's own prefetch window has room. */
  get hasCredit(): boolean {
    const p = this.options.prefetch;
    return this.options.noAck || p === 0 || this.unacked < p;
  }
}
