/**
 * Deque: a growable ring buffer. O(1) push/shift/unshift/peek, indexed access, and removal
 * at an index (O(n), used only for out-of-order acks).
 *
 * @module
 */

/** Double-ended queue backed by a power-of-two ring. */
export class Deque<T> {
  #items: (T | undefined)[];
  #head = 0;
  #length = 0;
  #mask: number;

  /** @param capacity initial capacity, rounded up to a power of two @default 16 */
  constructor(capacity = 16) {
    let size = 16;
    while (size < capacity) size *= 2;
    this.#items = new Array(size);
    this.#mask = size - 1;
  }

  /** Number of items. */
  get length(): number {
    return this.#length;
  }

  #grow(): void {
    const old = this.#items;
    const size = old.length * 2;
    const next: (T | undefined)[] = new Array(size);
    for (let i = 0; i < this.#length; i++) next[i] = old[(this.#head + i) & this.#mask];
    this.#items = next;
    this.#head = 0;
    this.#mask = size - 1;
  }

  /** Appends at the tail. */
  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  /** Prepends at the head. */
  unshift(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#head = (this.#head - 1) & this.#mask;
    this.#items[this.#head] = item;
    this.#length++;
  }

  /** Removes and returns the head. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    return item;
  }

  /** The head without removing it. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  /** Item at `index` from the head. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#length) return undefined;
    return this.#items[(this.#head + index) & this.#mask];
  }

  /** Removes the item at `index` from the head and returns it. */
  removeAt(index: number): T | undefined {
    if (index < 0 || index >= this.#length) return undefined;
    if (index === 0) return this.shift();
    const items = this.#items;
    const mask = this.#mask;
    const item = items[(this.#head + index) & mask];
    for (let i = index; i < this.#length - 1; i++) {
      items[(this.#head + i) & mask] = items[(this.#head + i + 1) & mask];
    }
    items[(this.#head + this.#length - 1) & mask] = undefined;
    this.#length--;
    return item;
  }

  /** Removes every item; returns them head first. */
  drain(): T[] {
    const out: T[] = new Array(this.#length);
    for (let i = 0; i < out.length; i++) out[i] = this.shift()!;
    return out;
  }

  /** Removes every item, keeping nothing. */
  clear(): void {
    this.#items = new Array(16);
    this.#mask = 15;
    this.#head = 0;
    this.#length = 0;
  }
}
