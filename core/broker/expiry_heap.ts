/**
 * ExpiryHeap: a binary min-heap of deliveries by expiry time, so a queue finds its expired
 * messages wherever they are in the queue (per-message TTL), not only at its head, without
 * scanning.
 *
 * @module
 */

import type { Delivery } from "./message.ts";

/** Min-heap of deliveries ordered by `expiresAt`. */
export class ExpiryHeap {
  readonly #items: Delivery[] = [];

  /** Number of entries (some may be stale: delivered or already expired). */
  get length(): number {
    return this.#items.length;
  }

  /** The soonest entry. */
  peek(): Delivery | undefined {
    return this.#items[0];
  }

  push(d: Delivery): void {
    const items = this.#items;
    items.push(d);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent].expiresAt <= d.expiresAt) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = d;
  }

  pop(): Delivery | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && items[r].expiresAt < items[l].expiresAt ? r : l;
      if (items[c].expiresAt >= last.expiresAt) break;
      items[i] = items[c];
      i = c;
    }
    items[i] = last;
    return top;
  }

  clear(): void {
    this.#items.length = 0;
  }
}
