/**
 * PriorityDeque: the ready list of a priority queue (`x-max-priority`). One FIFO deque per
 * priority level; `shift()` takes from the highest non-empty level, so delivery is by priority
 * and FIFO within a priority, and a requeued message goes back to the front of its own level.
 * Same surface as {@link Deque}, so a queue uses either without branching.
 *
 * @module
 */

import { Deque } from "./deque.ts";
import type { Delivery } from "./message.ts";

/** Ready deliveries by priority (0..max). */
export class PriorityDeque {
  readonly #levels: Deque<Delivery>[];
  #length = 0;
  /** Highest level that may be non-empty (a hint that only moves down when a level empties). */
  #top = 0;

  /** @param maxPriority highest priority level (1..255) */
  constructor(readonly maxPriority: number) {
    this.#levels = Array.from({ length: maxPriority + 1 }, () => new Deque<Delivery>());
  }

  /** Number of items. */
  get length(): number {
    return this.#length;
  }

  #level(d: Delivery): number {
    const p = d.priority;
    return p > this.maxPriority ? this.maxPriority : p;
  }

  push(d: Delivery): void {
    const level = this.#level(d);
    this.#levels[level].push(d);
    if (level > this.#top) this.#top = level;
    this.#length++;
  }

  unshift(d: Delivery): void {
    const level = this.#level(d);
    this.#levels[level].unshift(d);
    if (level > this.#top) this.#top = level;
    this.#length++;
  }

  shift(): Delivery | undefined {
    for (let l = this.#top; l >= 0; l--) {
      const d = this.#levels[l].shift();
      if (d !== undefined) {
        this.#top = l;
        this.#length--;
        return d;
      }
    }
    return undefined;
  }

  peek(): Delivery | undefined {
    for (let l = this.#top; l >= 0; l--) {
      const d = this.#levels[l].peek();
      if (d !== undefined) return d;
    }
    return undefined;
  }

  clear(): void {
    for (const level of this.#levels) level.clear();
    this.#length = 0;
    this.#top = 0;
  }
}
