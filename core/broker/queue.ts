/**
 * Queue: ready messages in order, and the consumers that take them.
 *
 * Owns the ready deque, round-robin choice among consumers that have credit, requeueing at the
 * head in original order, and the queue's flags. It does not own unacked messages: those sit in
 * the unacked list of the channel they were delivered on until acked or requeued.
 *
 * @module
 */

import type { FieldTable } from "../wire/field_table.ts";
import type { Consumer } from "./consumer.ts";
import { Deque } from "./deque.ts";
import { Delivery, type Message } from "./message.ts";

/** Declare-time properties of a queue. */
export interface QueueOptions {
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly args: FieldTable;
  /** The connection that owns an exclusive queue (an identity token), or null. */
  readonly owner: object | null;
}

/** A classic in-memory queue. */
export class Queue {
  readonly #ready = new Deque<Delivery>();
  readonly #consumers: Consumer[] = [];
  #next = 0;
  #draining = false;
  /** Set once any consumer has subscribed: auto-delete only fires after that. */
  hadConsumer = false;
  /** Set when the queue is deleted; deliveries and requeues to it are dropped. */
  deleted = false;
  /** Routing epoch mark, used by the vhost to remove duplicates without a Set per publish. */
  routeMark = 0;

  /**
   * @param name queue name
   * @param vhost vhost name
   * @param options flags, arguments and exclusive owner
   */
  constructor(readonly name: string, readonly vhost: string, readonly options: QueueOptions) {}

  /** Ready messages (not counting unacked ones). */
  get messageCount(): number {
    return this.#ready.length;
  }

  /** Active consumers. */
  get consumerCount(): number {
    return this.#consumers.length;
  }

  /** The consumers, in subscription order (read-only view). */
  get consumers(): readonly Consumer[] {
    return this.#consumers;
  }

  /** True when some consumer holds exclusive access. */
  get hasExclusiveConsumer(): boolean {
    return this.#consumers.length === 1 && this.#consumers[0].options.exclusive;
  }

  /** Adds a published message at the tail and delivers what can be delivered. */
  enqueue(message: Message): void {
    this.#ready.push(new Delivery(message, this));
    if (this.#consumers.length > 0) this.drain();
  }

  /** Takes the head for basic.get. */
  take(): Delivery | undefined {
    return this.#ready.shift();
  }

  /**
   * Puts deliveries back at the head, marked redelivered, keeping their relative order.
   * `deliveries` must be in the order they were taken (ascending delivery tag).
   */
  requeue(deliveries: readonly Delivery[]): void {
    if (this.deleted) return;
    for (let i = deliveries.length - 1; i >= 0; i--) {
      const d = deliveries[i];
      d.redelivered = true;
      d.tag = 0;
      d.consumer = null;
      this.#ready.unshift(d);
    }
    this.drain();
  }

  /** Removes all ready messages; returns how many. */
  purge(): number {
    const n = this.#ready.length;
    this.#ready.clear();
    return n;
  }

  /** Subscribes a consumer and starts delivering to it. */
  addConsumer(consumer: Consumer): void {
    this.#consumers.push(consumer);
    this.hadConsumer = true;
    this.drain();
  }

  /** Unsubscribes a consumer; returns false if it was not subscribed. */
  removeConsumer(consumer: Consumer): boolean {
    const i = this.#consumers.indexOf(consumer);
    if (i < 0) return false;
    this.#consumers.splice(i, 1);
    if (this.#next > i) this.#next--;
    return true;
  }

  /** Detaches every consumer (queue deleted); returns them so their channels can be told. */
  removeAllConsumers(): Consumer[] {
    return this.#consumers.splice(0, this.#consumers.length);
  }

  /**
   * Delivers ready messages to consumers with credit, round-robin, until either runs out.
   * Re-entrant calls (a delivery that triggers another drain) are folded into the running loop.
   */
  drain(): void {
    if (this.#draining || this.deleted) return;
    this.#draining = true;
    try {
      const consumers = this.#consumers;
      while (this.#ready.length > 0) {
        const n = consumers.length;
        let chosen: Consumer | null = null;
        for (let i = 0; i < n; i++) {
          const idx = (this.#next + i) % n;
          const c = consumers[idx];
          if (c.channel.canDeliver(c)) {
            chosen = c;
            this.#next = (idx + 1) % n;
            break;
          }
        }
        if (chosen === null) break;
        chosen.channel.deliver(chosen, this.#ready.shift()!);
      }
    } finally {
      this.#draining = false;
    }
  }
}
