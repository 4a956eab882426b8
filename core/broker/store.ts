/**
 * The storage seam: what the kernel asks of a message store. Types only, plus the in-memory
 * list of paged-out messages a queue keeps.
 *
 * The kernel decides *what* must be stored (persistent messages in durable queues, and any
 * message past a queue's in-memory window); the server's implementation (`server/store/`)
 * decides *how* (segment files, queue journals, group commit). A broker without a store keeps
 * everything in memory, as before.
 *
 * A stored message is named by its location: `segment * 2^32 + offset` (an exact integer up to
 * 2^53, so segments up to 2^21) and the length of its record.
 *
 * @module
 */

import type { Message } from "./message.ts";

/** The durable side of one queue: its journal of enqueues, deliveries and removals. */
export interface QueueJournal {
  /**
   * The message (already written with `MessageStore.write`) entered the queue; retains it.
   * `expiresAt` (ms since the epoch, Infinity for none) is kept so a TTL outlives a restart.
   */
  enqueued(location: number, length: number, bodyLength: number, expiresAt: number): void;
  /** It was delivered for the first time (recovered later, it is marked redelivered). */
  delivered(location: number, length: number): void;
  /** It left the queue for good (acked, expired, dropped, dead-lettered, purged); releases it. */
  removed(location: number, length: number): void;
  /** The queue was deleted: the journal goes, with its references. */
  drop(): void;
}

/**
 * Receives the messages found in a queue's journal at start-up, in queue order. `delivered`:
 * it had been delivered and not acknowledged (it comes back marked redelivered).
 */
export type RecoveredEntry = (
  location: number,
  length: number,
  bodyLength: number,
  delivered: boolean,
  expiresAt: number,
) => void;

/** A namespaced durable key-value map for plugin state (delayed messages, caches…). */
export interface KeyValueStore {
  /** Stores a value (durable at the next sync). */
  set(key: string, value: Uint8Array): void;
  delete(key: string): void;
  /** Every entry, as recovered at start-up and changed since. */
  entries(): IterableIterator<[string, Uint8Array]>;
}

/** What the kernel needs from a message store. */
export interface MessageStore {
  /**
   * Writes a message's record once (buffered; durable at the next sync) and sets its
   * `location` and `recordLength`; a message written already is left alone.
   */
  write(message: Message): void;
  /** Reads a record back; null (after a log line) when it is missing or fails its checksum. */
  read(location: number, length: number): Message | null;
  /** One more holder of the record (a queue's paged list, or a journal). */
  retain(location: number): void;
  /** One holder fewer; a segment whose records have no holder is reclaimed. */
  release(location: number): void;
  /** The journal of a durable queue (created empty if it has none). */
  journal(vhost: string, queue: string): QueueJournal;
  /** Messages a durable queue held when the broker stopped, in queue order; each stays retained. */
  recover(vhost: string, queue: string, each: RecoveredEntry): void;
  /** Calls back once everything written so far is on disk (group commit: one fsync for many). */
  afterSync(callback: () => void): void;
  /** Durable definitions changed: they are written before the next sync completes. */
  definitionsChanged(): void;
  /** A plugin's durable key-value map. */
  keyValue(namespace: string): KeyValueStore;
}

/**
 * The store namespace of a plugin's key-value map for one exchange or queue: a hash of vhost,
 * owner and the plugin's own namespace, so any names make a safe file name.
 */
export function ownerNamespace(vhost: string, owner: string, namespace: string): string {
  // FNV-1a, 64 bits as two 32-bit halves (collisions between live owners are negligible).
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  const text = `${vhost}\0${owner}\0${namespace}`;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
  }
  return `owner-${(h1 >>> 0).toString(16).padStart(8, "0")}${(h2 >>> 0).toString(16).padStart(8, "0")}`;
}

/** Words per entry of a `PagedList`: segment, offset, record length with flags, body length. */
const STRIDE = 4;
const CHUNK = 4096;
/** Flag bit in the length word: the message was delivered before. */
const REDELIVERED = 0x8000_0000;
/** Flag bit in the length word: the queue's journal holds the message (else only the paged list). */
const JOURNALED = 0x4000_0000;
const FLAGS = REDELIVERED | JOURNALED;

/**
 * The paged-out tail of a queue: messages on disk, in order, 16 bytes each in memory
 * (segment, offset, record length with flags, body length as four u32; an expiry time only in
 * chunks that have one), in chunks so it grows and shrinks without copying. A queue of ten
 * million messages holds 160 MB here instead of ten million objects. Record lengths stay under
 * 1 GiB (the top two bits of the length word are flags).
 */
export class PagedList {
  readonly #chunks: Uint32Array[] = [];
  /** Expiry times (ms), per chunk, allocated the first time a message in it has one. */
  readonly #expiry: (Float64Array | null)[] = [];
  /** Index of the head entry in the first chunk. */
  #head = 0;
  #length = 0;
  /** Sum of body lengths, for `x-max-length-bytes`. */
  bodyBytes = 0;

  /** Entries. */
  get length(): number {
    return this.#length;
  }

  /** Appends a stored message. */
  push(
    location: number,
    length: number,
    bodyLength: number,
    flags: { redelivered: boolean; journaled: boolean },
    expiresAt: number,
  ): void {
    const chunks = this.#chunks;
    const end = this.#head + this.#length;
    const ci = Math.floor(end / CHUNK);
    if (ci === chunks.length) {
      chunks.push(new Uint32Array(CHUNK * STRIDE));
      this.#expiry.push(null);
    }
    const slot = end % CHUNK;
    const i = slot * STRIDE;
    const c = chunks[ci];
    c[i] = Math.floor(location / 0x1_0000_0000);
    c[i + 1] = location >>> 0;
    c[i + 2] = (length | (flags.redelivered ? REDELIVERED : 0) | (flags.journaled ? JOURNALED : 0)) >>> 0;
    c[i + 3] = bodyLength;
    if (expiresAt !== Infinity) {
      (this.#expiry[ci] ??= new Float64Array(CHUNK).fill(Infinity))[slot] = expiresAt;
    }
    this.#length++;
    this.bodyBytes += bodyLength;
  }

  /** Location of the head entry (call only when non-empty). */
  get headLocation(): number {
    const c = this.#chunks[0];
    const i = this.#head * STRIDE;
    return c[i] * 0x1_0000_0000 + c[i + 1];
  }

  /** Record length of the head entry. */
  get headLength(): number {
    return (this.#chunks[0][this.#head * STRIDE + 2] & ~FLAGS) >>> 0;
  }

  /** Body length of the head entry. */
  get headBodyLength(): number {
    return this.#chunks[0][this.#head * STRIDE + 3];
  }

  /** Whether the head entry was delivered before. */
  get headRedelivered(): boolean {
    return (this.#chunks[0][this.#head * STRIDE + 2] & REDELIVERED) !== 0;
  }

  /** Whether the queue's journal holds the head entry. */
  get headJournaled(): boolean {
    return (this.#chunks[0][this.#head * STRIDE + 2] & JOURNALED) !== 0;
  }

  /** When the head entry expires (ms); Infinity without a TTL. */
  get headExpiresAt(): number {
    return this.#expiry[0]?.[this.#head] ?? Infinity;
  }

  /** Drops the head entry. */
  shift(): void {
    this.bodyBytes -= this.headBodyLength;
    this.#length--;
    if (++this.#head === CHUNK) {
      this.#chunks.shift();
      this.#expiry.shift();
      this.#head = 0;
    }
    if (this.#length === 0) {
      this.#chunks.length = 0;
      this.#expiry.length = 0;
      this.#head = 0;
    }
  }
}
