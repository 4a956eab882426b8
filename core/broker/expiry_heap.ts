/**
 * ExpiryHeap: a binary min-heap by time, so a queue finds its expired messages wherever they
 * are in the queue (per-message TTL), not only at its head, and a vhost releases delayed messages
 * in due order, without scanning or a timer per message.
 *
 * @module
 */

/** Min-heap of timed items (deliveries, delayed messages) ordered by `expiresAt`. */
export class ExpiryHeap<T extends { readonly expiresAt: number }> {
  readonly #items: T[] = [];

  /** Number of entries (some may be stale: delivered or already expired). */
  get length(): number {
    return this.#items.length;
  }

  /** The soonest entry. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(d: T): void {
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

  pop(): T | undefined {
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
