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
  /** Messages enqueued and not yet removed (the queue's persistent messages, ready or unacked). */
  readonly live: number;
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
  /**
   * Hands buffered journal entries to the operating system now (no fsync). Called before
   * deliveries reach a socket, so a process crash never forgets that a message was delivered
   * (it comes back marked redelivered). Cheap when nothing is buffered.
   */
  writeOut(): void;
  /** Calls back once everything written so far is on disk (group commit: one fsync for many). */
  afterSync(callback: () => void): void;
  /** Durable definitions changed: they are written before the next sync completes. */
  definitionsChanged(): void;
  /** A plugin's durable key-value map. */
  keyValue(namespace: string): KeyValueStore;
  /** Set once a write or sync failed: nothing more is confirmed (the disk alarm is raised). */
  readonly failed: boolean;
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

/** Words per entry of a `PagedList`: offset in the segment, record length with flags. */
const STRIDE = 2;
const CHUNK = 8192;
/** Flag bit in the length word: the message was delivered before. */
const REDELIVERED = 0x8000_0000;
/** Flag bit in the length word: the queue's journal holds the message (else only the paged list). */
const JOURNALED = 0x4000_0000;
const FLAGS = REDELIVERED | JOURNALED;
/** Bytes of a record beyond its body when the body is not known (a record that could not be read). */
const RECORD_OVERHEAD_ESTIMATE = 20;
/** Expiry time of an entry expired in place (see `PagedList.kill`). */
const DEAD = -1;

/**
 * The paged-out tail of a queue: messages on disk, in order, 8 bytes each in memory (offset and
 * record length with two flag bits, as two u32), in chunks so it grows and shrinks without
 * copying. Segment numbers change rarely along a queue, so each chunk keeps them as runs
 * (first slot, segment); expiry times are kept only in chunks where some message has one.
 * A queue of ten million messages holds about 80 MB here instead of ten million objects.
 * Record lengths stay under 1 GiB (the top two bits of the length word are flags).
 */
export class PagedList {
  readonly #chunks: Uint32Array[] = [];
  /** Per chunk: [first slot, segment, first slot, segment…], one pair per run of one segment. */
  readonly #segments: number[][] = [];
  /** Expiry times (ms), per chunk, allocated the first time a message in it has one. */
  readonly #expiry: (Float64Array | null)[] = [];
  /** Index of the head entry in the first chunk. */
  #head = 0;
  /** Index in the first chunk's segment runs of the run holding the head. */
  #headRun = 0;
  #length = 0;
  /** Entries shifted off so far: the head's index in the list's whole history (see `kill`). */
  #shifted = 0;
  /** Entries expired in place (`kill`), still in the list until they reach the head. */
  #dead = 0;
  /**
   * Sum of body lengths, for `x-max-length-bytes`: added on `push`, taken off by `shift` with
   * the body length the reader found.
   */
  bodyBytes = 0;

  /** Entries, dead ones included. */
  get length(): number {
    return this.#length;
  }

  /** Entries not expired in place: the messages this list still holds. */
  get live(): number {
    return this.#length - this.#dead;
  }

  /** Index of the head entry in the list's whole history; the last entry is `headIndex + length - 1`. */
  get headIndex(): number {
    return this.#shifted;
  }

  /** Chunk and slot of the entry with history index `index`, or null when it is no longer (or not yet) held. */
  #at(index: number): { ci: number; slot: number } | null {
    const i = index - this.#shifted;
    if (i < 0 || i >= this.#length) return null;
    const p = this.#head + i;
    return { ci: Math.floor(p / CHUNK), slot: p % CHUNK };
  }

  /**
   * The entry with history index `index`, for expiring it in place; null when it is gone or dead.
   */
  entry(index: number): { location: number; length: number; journaled: boolean } | null {
    const at = this.#at(index);
    if (at === null || this.#expiry[at.ci]?.[at.slot] === DEAD) return null;
    const word = this.#chunks[at.ci][at.slot * STRIDE + 1];
    const runs = this.#segments[at.ci];
    let r = 0;
    while (r + 2 < runs.length && runs[r + 2] <= at.slot) r += 2;
    return {
      location: runs[r + 1] * 0x1_0000_0000 + this.#chunks[at.ci][at.slot * STRIDE],
      length: (word & ~FLAGS) >>> 0,
      journaled: (word & JOURNALED) !== 0,
    };
  }

  /**
   * Marks an entry expired in place (its message was dead-lettered and its record released): it
   * stays until it reaches the head, where it is dropped without being read. Only entries with
   * an expiry time can die this way.
   */
  kill(index: number, bodyLength: number): void {
    const at = this.#at(index);
    const times = at === null ? undefined : this.#expiry[at.ci];
    if (at === null || !times || times[at.slot] === DEAD) return;
    times[at.slot] = DEAD;
    this.#dead++;
    this.bodyBytes = Math.max(0, this.bodyBytes - bodyLength);
  }

  /** Whether the head entry was expired in place (drop it with `shift()`, do not read it). */
  get headDead(): boolean {
    return this.#expiry[0]?.[this.#head] === DEAD;
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
      this.#segments.push([]);
      this.#expiry.push(null);
    }
    const slot = end % CHUNK;
    const segment = Math.floor(location / 0x1_0000_0000);
    const runs = this.#segments[ci];
    if (runs.length === 0 || runs[runs.length - 1] !== segment) runs.push(slot, segment);
    const c = chunks[ci];
    c[slot * STRIDE] = location >>> 0;
    c[slot * STRIDE + 1] =
      (length | (flags.redelivered ? REDELIVERED : 0) | (flags.journaled ? JOURNALED : 0)) >>> 0;
    if (expiresAt !== Infinity) {
      (this.#expiry[ci] ??= new Float64Array(CHUNK).fill(Infinity))[slot] = expiresAt;
    }
    this.#length++;
    this.bodyBytes += bodyLength;
  }

  /** Location of the head entry (call only when non-empty). */
  get headLocation(): number {
    const runs = this.#segments[0];
    while (this.#headRun + 2 < runs.length && runs[this.#headRun + 2] <= this.#head) this.#headRun += 2;
    return runs[this.#headRun + 1] * 0x1_0000_0000 + this.#chunks[0][this.#head * STRIDE];
  }

  /** Record length of the head entry. */
  get headLength(): number {
    return (this.#chunks[0][this.#head * STRIDE + 1] & ~FLAGS) >>> 0;
  }

  /** Whether the head entry was delivered before. */
  get headRedelivered(): boolean {
    return (this.#chunks[0][this.#head * STRIDE + 1] & REDELIVERED) !== 0;
  }

  /** Whether the queue's journal holds the head entry. */
  get headJournaled(): boolean {
    return (this.#chunks[0][this.#head * STRIDE + 1] & JOURNALED) !== 0;
  }

  /** When the head entry expires (ms); Infinity without a TTL. */
  get headExpiresAt(): number {
    return this.#expiry[0]?.[this.#head] ?? Infinity;
  }

  /**
   * Drops the head entry.
   * @param bodyLength its body length, when the caller read the record; estimated otherwise
   */
  shift(bodyLength = -1): void {
    if (this.headDead) this.#dead--; // its bytes went when it died
    else {
      const estimate = bodyLength >= 0 ? bodyLength : this.headLength - RECORD_OVERHEAD_ESTIMATE;
      this.bodyBytes = Math.max(0, this.bodyBytes - estimate);
    }
    this.#length--;
    this.#shifted++;
    if (this.#length === 0) this.bodyBytes = 0;
    if (++this.#head === CHUNK) {
      this.#chunks.shift();
      this.#segments.shift();
      this.#expiry.shift();
      this.#head = 0;
      this.#headRun = 0;
    }
    if (this.#length === 0) {
      this.#chunks.length = 0;
      this.#segments.length = 0;
      this.#expiry.length = 0;
      this.#head = 0;
      this.#headRun = 0;
    }
  }
}
