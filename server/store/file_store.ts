/**
 * The file-backed message store: the kernel's `MessageStore` on plain files, through `node:fs`
 * (positioned reads and writes, fsync), so it runs the same on Deno and Bun.
 *
 * Owns the data directory:
 * - `messages/NNNNNNNN.seg` — append-only segments of message records, one record per message
 *   however many queues hold it; a segment is deleted once no queue references a record in it.
 * - `queues/NNNNNNNN.qj` — one journal per durable queue (enqueued / first delivered / removed),
 *   compacted when mostly dead.
 * - `definitions.json` — durable vhosts, exchanges, queues, bindings (write-then-rename).
 * - `kv/NAME.kv` — plugins' key-value logs.
 *
 * Group commit: writes go to in-memory buffers, are written to the files once per turn of the
 * event loop, and one round of fsyncs (in the runtime's thread pool, not blocking the loop)
 * covers every write made before it started; the callbacks waiting on it (publisher confirms,
 * tx.commit-ok) run when it completes. With `sync: "none"` they run once the data is written
 * to the OS (safe from a process crash, not from a power cut).
 *
 * docs/storage.md describes the files and what recovery does with each kind of damage.
 *
 * @module
 */

import fs from "node:fs";
import process from "node:process";
import { join } from "node:path";
import { setImmediate } from "node:timers";
import type {
  KeyValueStore,
  Logger,
  Message,
  MessageStore,
  QueueJournal,
  RecoveredEntry,
} from "../../core/mod.ts";
import {
  decodeRecord,
  encodeEntry,
  encodeExpiryEntry,
  encodeKv,
  encodeRecord,
  ENTRY_DELIVERED,
  ENTRY_ENQUEUED,
  ENTRY_EXPIRES,
  ENTRY_REMOVED,
  ENTRY_SIZE,
  entryIntact,
  journalHeader,
  KV_DELETE,
  KV_SET,
  kvHeader,
  readJournalHeader,
  recordSize,
  replayKv,
  SEGMENT_HEADER_SIZE,
  segmentHeader,
  segmentHeaderProblem,
  segmentName,
} from "./format.ts";

/** How the store makes writes durable before confirming them. */
export type SyncMode = "always" | "none";

/** Options of {@link FileStore.open}. */
export interface FileStoreOptions {
  /** The data directory (created if missing). */
  readonly dir: string;
  /** `always`: fsync before confirming (default); `none`: confirm once written to the OS. */
  readonly sync?: SyncMode;
  readonly log: Logger;
  /** A new segment is started past this size, bytes. @default 64 MiB */
  readonly segmentSize?: number;
  /** The durable definitions to write when they change (set after open, before recovery). */
  definitions?: () => unknown;
}

/** Writes buffered for the current segment before they go to the file, bytes. */
const WRITE_BUFFER = 1024 * 1024;
/** Writes without a waiter are still made durable within this time, ms. */
const BACKGROUND_SYNC_DELAY = 200;
/** A journal is rewritten when it holds more than this many dead entries and more dead than live. */
const COMPACT_MIN_DEAD = 16 * 1024;

const TWO_32 = 0x1_0000_0000;

interface Segment {
  readonly n: number;
  readonly path: string;
  fd: number;
  /** Bytes in the file (written or, for the current segment, about to be: see #used). */
  size: number;
  /** Journal entries and paged lists holding records in it. */
  refs: number;
}

/** Live entries of a journal after replay, in queue order. */
interface Replayed {
  locations: Float64Array;
  lengths: Uint32Array;
  bodyLengths: Uint32Array;
  /** Bit 1: live; bit 2: delivered. */
  flags: Uint8Array;
  /** Expiry times (ms since the epoch), allocated when some entry has one; Infinity for none. */
  expiresAt: Float64Array | null;
  count: number;
  live: number;
  damaged: number;
  /** Entries that removed a message (a journal without any need not be rewritten). */
  removed: number;
}

/** The message store on files. */
export class FileStore implements MessageStore {
  readonly dir: string;
  readonly #log: Logger;
  readonly #sync: SyncMode;
  readonly #segmentSize: number;
  readonly #segments = new Map<number, Segment>();
  #current!: Segment;
  readonly #buf = new Uint8Array(WRITE_BUFFER);
  /** Bytes of #buf not yet written to the current segment (they sit at its end). */
  #used = 0;
  readonly #journals = new Map<string, FileJournal>();
  /** Journals found at start-up whose queue has not been restored (yet). */
  readonly #unclaimed = new Map<string, string>();
  #nextJournal = 1;
  readonly #kv = new Map<string, FileKeyValue>();
  /** Journals and key-value logs with buffered entries (only those are visited per turn). */
  readonly #pendingJournals = new Set<{ writePending(): void }>();
  readonly #dirty = new Set<number>();
  #waiters: (() => void)[] = [];
  #flushScheduled = false;
  #syncing = false;
  #backgroundSync: ReturnType<typeof setTimeout> | null = null;
  #definitionsDirty = false;
  /** Segments whose last reference went: deleted once the journals saying so are on disk. */
  readonly #reclaimable = new Set<Segment>();
  /** Segments already reported damaged, so a bad segment logs once, not once per record. */
  readonly #reported = new Set<number>();
  #closed = false;
  /** The definitions recovered from `definitions.json`, or null on a fresh data directory. */
  readonly recoveredDefinitions: unknown;
  definitions: () => unknown;

  /** definitions.json existed but could not be read (set aside): nothing is deleted at start. */
  readonly #definitionsLost: boolean;

  private constructor(options: FileStoreOptions, recovered: unknown, definitionsLost: boolean) {
    this.dir = options.dir;
    this.#log = options.log;
    this.#sync = options.sync ?? "always";
    this.#segmentSize = options.segmentSize ?? 64 * 1024 * 1024;
    this.recoveredDefinitions = recovered;
    this.#definitionsLost = definitionsLost;
    this.definitions = options.definitions ?? (() => null);
  }

  /**
   * Opens (or creates) a data directory: reads the definitions, opens the segments, finds the
   * queue journals, and starts a fresh segment for this run. Damaged files are set aside with
   * a log line; nothing here stops the broker from starting.
   */
  static open(options: FileStoreOptions): FileStore {
    const dir = options.dir;
    for (const sub of ["", "messages", "queues", "kv"]) fs.mkdirSync(join(dir, sub), { recursive: true });
    takeLock(dir);
    const defs = readDefinitions(dir, options.log);
    const store = new FileStore(options, defs === LOST ? null : defs, defs === LOST);
    store.#openSegments();
    store.#findJournals();
    return store;
  }

  #openSegments(): void {
    const dir = join(this.dir, "messages");
    let last = 0;
    for (const name of fs.readdirSync(dir).sort()) {
      const m = /^(\d{8})\.seg$/.exec(name);
      if (!m) continue;
      const n = Number(m[1]);
      const path = join(dir, name);
      const fd = fs.openSync(path, "r+");
      const header = new Uint8Array(SEGMENT_HEADER_SIZE);
      const got = fs.readSync(fd, header, 0, SEGMENT_HEADER_SIZE, 0);
      const problem = segmentHeaderProblem(header.subarray(0, got), n);
      if (problem !== null) {
        fs.closeSync(fd);
        this.#quarantine(path, problem);
        continue;
      }
      this.#segments.set(n, { n, path, fd, size: fs.fstatSync(fd).size, refs: 0 });
      last = Math.max(last, n);
    }
    this.#startSegment(last + 1);
  }

  #startSegment(n: number): void {
    const path = join(this.dir, "messages", segmentName(n));
    const fd = fs.openSync(path, "w+");
    fs.writeSync(fd, segmentHeader(n), 0, SEGMENT_HEADER_SIZE, 0);
    const seg: Segment = { n, path, fd, size: SEGMENT_HEADER_SIZE, refs: 0 };
    this.#segments.set(n, seg);
    this.#current = seg;
    this.#dirty.add(fd);
  }

  #findJournals(): void {
    const dir = join(this.dir, "queues");
    for (const name of fs.readdirSync(dir)) {
      const m = /^(\d+)\.qj$/.exec(name);
      if (name.endsWith(".tmp")) {
        fs.rmSync(join(dir, name), { force: true }); // a compaction interrupted by a crash
        continue;
      }
      if (!m) continue;
      this.#nextJournal = Math.max(this.#nextJournal, Number(m[1]) + 1);
      const path = join(dir, name);
      const head = readHead(path, 4096);
      const h = readJournalHeader(head);
      if (typeof h === "string") {
        this.#quarantine(path, h);
        continue;
      }
      this.#unclaimed.set(journalKey(h.vhost, h.queue), path);
    }
  }

  /** Moves a damaged file aside (`.bad`), so it is kept for inspection but never read again. */
  #quarantine(path: string, problem: string): void {
    this.#log.error("store: damaged file set aside", { file: path, problem, movedTo: `${path}.bad` });
    try {
      fs.renameSync(path, `${path}.bad`);
    } catch (err) {
      this.#log.error("store: cannot set damaged file aside", { file: path, error: String(err) });
    }
  }

  // ---------------------------------------------------------------- MessageStore: records

  /** @inheritdoc */
  write(message: Message): void {
    if (message.location >= 0) return;
    const size = recordSize(message);
    let seg = this.#current;
    if (seg.size + this.#used + size > this.#segmentSize && seg.size + this.#used > SEGMENT_HEADER_SIZE) {
      this.#writeBuffer();
      if (seg.refs === 0) this.#reclaimable.add(seg);
      this.#startSegment(seg.n + 1);
      seg = this.#current;
    }
    const offset = seg.size + this.#used;
    if (size > this.#buf.length - this.#used) this.#writeBuffer();
    if (size > this.#buf.length) {
      const big = new Uint8Array(size);
      encodeRecord(message, big, 0);
      fs.writeSync(seg.fd, big, 0, size, offset);
      seg.size += size;
      this.#dirty.add(seg.fd);
    } else {
      encodeRecord(message, this.#buf, this.#used);
      this.#used += size;
    }
    message.location = seg.n * TWO_32 + offset;
    message.recordLength = size;
    this.#scheduleFlush();
  }

  /** Writes the buffered records to the current segment (to the OS, not yet to disk). */
  #writeBuffer(): void {
    if (this.#used === 0) return;
    const seg = this.#current;
    let done = 0;
    while (done < this.#used) {
      done += fs.writeSync(seg.fd, this.#buf, done, this.#used - done, seg.size + done);
    }
    seg.size += this.#used;
    this.#used = 0;
    this.#dirty.add(seg.fd);
  }

  /** @inheritdoc */
  read(location: number, length: number): Message | null {
    const n = Math.floor(location / TWO_32);
    const offset = location % TWO_32;
    const seg = this.#segments.get(n);
    if (seg === undefined) return this.#damaged(n, "segment file missing");
    if (seg === this.#current && offset + length > seg.size) this.#writeBuffer();
    const b = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const r = fs.readSync(seg.fd, b, got, length - got, offset + got);
      if (r === 0) break;
      got += r;
    }
    if (got < length) return this.#damaged(n, "record cut off (file truncated)");
    const m = decodeRecord(b);
    if (typeof m === "string") return this.#damaged(n, m);
    m.location = location;
    return m;
  }

  #damaged(segment: number, problem: string): null {
    if (!this.#reported.has(segment)) {
      this.#reported.add(segment);
      this.#log.error("store: damaged message record dropped (further ones in this segment are not logged)", {
        segment: segmentName(segment),
        problem,
      });
    }
    return null;
  }

  /** @inheritdoc */
  retain(location: number): void {
    const seg = this.#segments.get(Math.floor(location / TWO_32));
    if (seg !== undefined) {
      seg.refs++;
      if (seg.refs === 1) this.#reclaimable.delete(seg);
    }
  }

  /** `count` more holders of records in segment `n` (recovery retains a whole journal at once). */
  retainSegment(n: number, count: number): void {
    const seg = this.#segments.get(n);
    if (seg !== undefined && count > 0) {
      seg.refs += count;
      this.#reclaimable.delete(seg);
    }
  }

  /** @inheritdoc */
  release(location: number): void {
    const seg = this.#segments.get(Math.floor(location / TWO_32));
    if (seg !== undefined && --seg.refs === 0 && seg !== this.#current) {
      this.#reclaimable.add(seg);
      this.#scheduleFlush();
    }
  }

  // ---------------------------------------------------------------- MessageStore: journals

  /** @inheritdoc */
  journal(vhost: string, queue: string): QueueJournal {
    const key = journalKey(vhost, queue);
    const existing = this.#journals.get(key);
    if (existing !== undefined) return existing;
    const found = this.#unclaimed.get(key);
    let j: FileJournal;
    if (found !== undefined) {
      this.#unclaimed.delete(key);
      j = FileJournal.reopen(this, found, vhost, queue);
    } else {
      const path = join(this.dir, "queues", `${String(this.#nextJournal++).padStart(8, "0")}.qj`);
      j = FileJournal.create(this, path, vhost, queue);
    }
    this.#journals.set(key, j);
    return j;
  }

  /** @inheritdoc */
  recover(vhost: string, queue: string, each: RecoveredEntry): void {
    this.#journals.get(journalKey(vhost, queue))?.handOver(each);
  }

  /**
   * Ends start-up: journals whose queue is no longer defined are deleted, and segments nothing
   * references any more are reclaimed. Returns what was recovered, for the start-up log line.
   */
  finishRecovery(): { queues: number; messages: number; segments: number } {
    const lost = this.#definitionsLost;
    for (const [key, path] of this.#unclaimed) {
      const [vhost, queue] = key.split("\0");
      if (lost) {
        // Without definitions every journal looks orphaned: keep them (and below, every
        // segment) for an operator to recover, rather than deleting every message.
        this.#quarantine(path, `queue '${queue}' in vhost '${vhost}' not defined (definitions unreadable)`);
        continue;
      }
      this.#log.warn("store: journal of a queue that is no longer defined removed", {
        vhost,
        queue,
        file: path,
      });
      fs.rmSync(path, { force: true });
    }
    this.#unclaimed.clear();
    let messages = 0;
    for (const j of this.#journals.values()) messages += j.live;
    if (!lost) {
      for (const seg of this.#segments.values()) {
        if (seg.refs === 0 && seg !== this.#current) this.#reclaimable.add(seg);
      }
      this.#reclaim();
    }
    this.#syncDirectory(join(this.dir, "queues"));
    return { queues: this.#journals.size, messages, segments: this.#segments.size };
  }

  /** Called by a journal (or key-value log) that now has something to write. */
  journalChanged(j: { writePending(): void }): void {
    this.#pendingJournals.add(j);
    this.#scheduleFlush();
  }

  /** @inheritdoc */
  writeOut(): void {
    if (this.#pendingJournals.size === 0 || this.#closed) return;
    try {
      this.#writeBuffer(); // records first: no journal entry may point past its segment's end
      for (const j of this.#pendingJournals) j.writePending();
    } catch (err) {
      this.#fatal(err);
    }
    this.#pendingJournals.clear();
  }

  /** Called by a dropped journal. */
  forgetJournal(j: FileJournal): void {
    this.#journals.delete(journalKey(j.vhost, j.queue));
  }

  /** A file descriptor written since the last sync round. */
  markDirty(fd: number): void {
    this.#dirty.add(fd);
  }

  /** The log, for journals. */
  get log(): Logger {
    return this.#log;
  }

  /** Segment bounds, for journals checking entries at recovery. */
  segmentSize(n: number): number {
    const seg = this.#segments.get(n);
    if (seg === undefined) return -1;
    return seg === this.#current ? seg.size + this.#used : seg.size;
  }

  // ---------------------------------------------------------------- MessageStore: sync

  /** @inheritdoc */
  afterSync(callback: () => void): void {
    this.#waiters.push(callback);
    this.#scheduleFlush();
  }

  /** @inheritdoc */
  definitionsChanged(): void {
    this.#definitionsDirty = true;
    this.#scheduleFlush();
  }

  /** @inheritdoc */
  keyValue(namespace: string): KeyValueStore {
    let kv = this.#kv.get(namespace);
    if (kv === undefined) {
      if (!/^[A-Za-z0-9_.-]{1,100}$/.test(namespace) || namespace.startsWith(".")) {
        throw new TypeError(`Invalid key-value namespace "${namespace}": letters, digits, _ . - only`);
      }
      kv = new FileKeyValue(this, join(this.dir, "kv", `${namespace}.kv`));
      this.#kv.set(namespace, kv);
    }
    return kv;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#closed) return;
    this.#flushScheduled = true;
    setImmediate(this.#flush);
  }

  /** Writes what was buffered this turn, then starts a sync round if anything waits for one. */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#closed) return;
    try {
      this.#writeAll();
    } catch (err) {
      this.#fatal(err);
      return;
    }
    if (this.#syncing) return; // the round in flight reschedules us when it completes
    if (this.#waiters.length > 0 || this.#definitionsDirty) this.#startSync();
    else if (this.#dirty.size > 0 || this.#reclaimable.size > 0) {
      this.#backgroundSync ??= setTimeout(() => {
        this.#backgroundSync = null;
        if (!this.#syncing && !this.#closed) this.#startSync();
      }, BACKGROUND_SYNC_DELAY);
    }
  };

  #writeAll(): void {
    this.#writeBuffer();
    for (const j of this.#pendingJournals) j.writePending();
    this.#pendingJournals.clear();
  }

  /** One round: the definitions (if changed), then an fsync of every file written since the last. */
  #startSync(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    if (this.#definitionsDirty) {
      this.#definitionsDirty = false;
      try {
        writeDefinitions(this.dir, this.definitions(), this.#sync === "always");
      } catch (err) {
        this.#fatal(err);
        return;
      }
    }
    if (this.#sync === "none") {
      this.#dirty.clear();
      this.#reclaim();
      runAll(waiters, this.#log);
      return;
    }
    const fds = [...this.#dirty];
    this.#dirty.clear();
    const reclaim = [...this.#reclaimable];
    this.#syncing = true;
    let pending = fds.length + 1;
    const done = () => {
      if (--pending > 0) return;
      this.#syncing = false;
      if (this.#closed) return;
      // Segments emptied before the round can go: the removals that emptied them are on disk.
      for (const seg of reclaim) if (seg.refs === 0) this.#deleteSegment(seg);
      runAll(waiters, this.#log);
      if (this.#waiters.length > 0 || this.#definitionsDirty || this.#dirty.size > 0) this.#scheduleFlush();
    };
    for (const fd of fds) {
      fs.fsync(fd, (err) => {
        // EBADF: the file was deleted (queue or segment) while the round was in flight.
        if (err && (err as { code?: string }).code !== "EBADF") this.#fatal(err);
        done();
      });
    }
    done();
  }

  #reclaim(): void {
    for (const seg of this.#reclaimable) if (seg.refs === 0) this.#deleteSegment(seg);
    this.#reclaimable.clear();
  }

  #deleteSegment(seg: Segment): void {
    this.#reclaimable.delete(seg);
    if (seg === this.#current || !this.#segments.has(seg.n)) return;
    this.#segments.delete(seg.n);
    try {
      fs.closeSync(seg.fd);
      fs.rmSync(seg.path, { force: true });
    } catch (err) {
      this.#log.warn("store: cannot delete segment", { file: seg.path, error: String(err) });
    }
  }

  /**
   * A write or fsync failed (disk full, I/O error): confirms can no longer be honoured. The
   * store stops confirming (waiters are dropped, so publishers see no ack rather than a false
   * one) and says so loudly; the disk alarm blocks publishers.
   */
  #fatal(err: unknown): void {
    this.#log.error("store: write failed; confirms are withheld until restart", {
      error: err instanceof Error ? err.message : String(err),
    });
    this.#waiters = [];
    this.failed = true;
  }

  /** Set after a failed write: nothing more is confirmed. */
  failed = false;

  #syncDirectory(path: string): void {
    if (this.#sync === "none") return;
    try {
      const fd = fs.openSync(path, "r");
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      // Some platforms cannot fsync a directory; the rename is still atomic.
    }
  }

  /**
   * Clean stop: writes and fsyncs every open file (a sync round may still be in flight: its
   * files are synced here too), then closes them. Waiting callbacks are dropped: by now their
   * connections are closed.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#backgroundSync !== null) clearTimeout(this.#backgroundSync);
    try {
      this.#writeAll();
      if (this.#definitionsDirty) writeDefinitions(this.dir, this.definitions(), true);
      for (const seg of this.#segments.values()) fs.fsyncSync(seg.fd);
    } catch (err) {
      this.#log.error("store: final write failed", { error: String(err) });
    }
    this.#closed = true;
    const closing: { close(): void }[] = [...this.#journals.values(), ...this.#kv.values()];
    for (const f of closing) {
      try {
        f.close();
      } catch (err) {
        this.#log.error("store: final sync failed", { error: String(err) });
      }
    }
    for (const seg of this.#segments.values()) fs.closeSync(seg.fd);
    fs.rmSync(join(this.dir, LOCK), { force: true });
    this.#segments.clear();
  }
}

function runAll(callbacks: (() => void)[], log: Logger): void {
  for (const cb of callbacks) {
    try {
      cb();
    } catch (err) {
      log.error("store: sync callback failed", { error: err instanceof Error ? err.stack : String(err) });
    }
  }
}

function journalKey(vhost: string, queue: string): string {
  return `${vhost}\0${queue}`;
}

function readHead(path: string, max: number): Uint8Array {
  const fd = fs.openSync(path, "r");
  try {
    const b = new Uint8Array(max);
    const n = fs.readSync(fd, b, 0, max, 0);
    return b.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------- the data directory's lock

/** Holds the pid of the broker using the directory; left behind by a crash, taken over then. */
const LOCK = "LOCK";

/**
 * One broker per data directory: two would corrupt each other's files. The lock file names the
 * owner's pid; a file whose process is gone (a crash, `kill -9`) is taken over.
 */
function takeLock(dir: string): void {
  const path = join(dir, LOCK);
  let owner = 0;
  try {
    owner = Number(fs.readFileSync(path, "utf8").trim());
  } catch {
    // no lock: a fresh directory, or a clean stop
  }
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
    throw new Error(`Data dir "${dir}" is in use by another broker (pid ${owner}; see ${path})`);
  }
  fs.writeFileSync(path, `${process.pid}\n`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM"; // exists, owned by someone else
  }
}

// ---------------------------------------------------------------- definitions file

const DEFINITIONS = "definitions.json";

/** readDefinitions: a definitions file that exists but cannot be read. */
const LOST = Symbol("definitions lost");

function readDefinitions(dir: string, log: Logger): unknown {
  const path = join(dir, DEFINITIONS);
  fs.rmSync(`${path}.tmp`, { force: true }); // a write interrupted before its rename
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch {
    return null; // a fresh data directory
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    // Cannot happen through write-then-rename; keep the file and start without definitions.
    log.error("store: definitions file unreadable, set aside; queue journals and segments kept", {
      file: path,
      error: String(err),
    });
    fs.renameSync(path, `${path}.bad`);
    return LOST;
  }
}

/** Write-then-rename: the file is either the old definitions or the new ones, never a mix. */
function writeDefinitions(dir: string, definitions: unknown, durable: boolean): void {
  if (definitions === null || definitions === undefined) return; // nothing to say yet (start-up)
  const path = join(dir, DEFINITIONS);
  const tmp = `${path}.tmp`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, JSON.stringify(definitions, null, 1));
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  if (durable) {
    try {
      const d = fs.openSync(dir, "r");
      fs.fsyncSync(d);
      fs.closeSync(d);
    } catch {
      // see #syncDirectory
    }
  }
}

// ---------------------------------------------------------------- queue journals

/** One durable queue's journal file. */
class FileJournal implements QueueJournal {
  readonly #store: FileStore;
  #path: string;
  #fd: number;
  #headerSize: number;
  /** Entries in the file, and written or pending. */
  #entries = 0;
  /** Messages enqueued and not yet removed. */
  live = 0;
  #pending = new Uint8Array(4096);
  #pendingUsed = 0;
  #size: number;
  #dropped = false;
  /** Live entries found at start-up, until the queue takes them. */
  #replayed: Replayed | null = null;

  private constructor(
    store: FileStore,
    path: string,
    fd: number,
    size: number,
    headerSize: number,
    readonly vhost: string,
    readonly queue: string,
  ) {
    this.#store = store;
    this.#path = path;
    this.#fd = fd;
    this.#size = size;
    this.#headerSize = headerSize;
  }

  static create(store: FileStore, path: string, vhost: string, queue: string): FileJournal {
    const header = journalHeader(vhost, queue);
    const fd = fs.openSync(path, "w+");
    fs.writeSync(fd, header, 0, header.length, 0);
    store.markDirty(fd);
    return new FileJournal(store, path, fd, header.length, header.length, vhost, queue);
  }

  /**
   * Opens a journal found at start-up: replays it (damaged entries are skipped and counted;
   * a torn last entry is cut off), retains the segments of its live entries, and rewrites it
   * when it holds dead entries, so the file again says only what is live.
   */
  static reopen(store: FileStore, path: string, vhost: string, queue: string): FileJournal {
    const h = readJournalHeader(readHead(path, 4096));
    const headerSize = typeof h === "string" ? 0 : h.size;
    const { r, size } = replayFile(path, headerSize);
    // Entries pointing past the end of their segment (a segment cut short) cannot be read back.
    // Live entries are counted per segment on the way, so each segment is retained once.
    let unreadable = 0;
    const perSegment = new Map<number, number>();
    let lastSeg = -1;
    let lastSize = -1;
    let lastCount = 0;
    for (let i = 0; i < r.count; i++) {
      if ((r.flags[i] & 1) === 0) continue;
      const loc = r.locations[i];
      const seg = Math.floor(loc / TWO_32);
      if (seg !== lastSeg) {
        if (lastCount > 0) perSegment.set(lastSeg, (perSegment.get(lastSeg) ?? 0) + lastCount);
        lastSeg = seg;
        lastSize = store.segmentSize(seg);
        lastCount = 0;
      }
      if (lastSize < (loc % TWO_32) + r.lengths[i]) {
        r.flags[i] = 0;
        r.live--;
        unreadable++;
      } else lastCount++;
    }
    if (lastCount > 0) perSegment.set(lastSeg, (perSegment.get(lastSeg) ?? 0) + lastCount);
    const torn = (size - headerSize) % ENTRY_SIZE;
    if (r.damaged > 0 || torn > 0 || unreadable > 0) {
      store.log.error("store: queue journal damaged; intact entries kept", {
        vhost,
        queue,
        file: path,
        damagedEntries: r.damaged,
        tornBytes: torn,
        messagesWithMissingRecords: unreadable,
      });
    }
    // A journal that says only what is live (a deep queue nobody consumed) is kept as it is;
    // one with removed or damaged entries is rewritten, so it says only what is live.
    const j = r.removed === 0 && r.damaged === 0 && torn === 0 && unreadable === 0
      ? new FileJournal(store, path, fs.openSync(path, "r+"), size, headerSize, vhost, queue)
      : FileJournal.#rewrite(store, path, vhost, queue, r);
    j.#entries = Math.floor((j.#size - headerSize) / ENTRY_SIZE);
    j.live = r.live;
    j.#replayed = r;
    for (const [seg, count] of perSegment) store.retainSegment(seg, count);
    return j;
  }

  /** Writes a fresh journal holding only the live entries of `r` (temp file, fsync, rename). */
  static #rewrite(store: FileStore, path: string, vhost: string, queue: string, r: Replayed): FileJournal {
    const header = journalHeader(vhost, queue);
    let extra = 0;
    for (let i = 0; i < r.count; i++) {
      if ((r.flags[i] & 3) === 3) extra++;
      if ((r.flags[i] & 1) !== 0 && r.expiresAt !== null && r.expiresAt[i] !== Infinity) extra++;
    }
    const b = new Uint8Array(header.length + (r.live + extra) * ENTRY_SIZE);
    b.set(header, 0);
    let p = header.length;
    for (let i = 0; i < r.count; i++) {
      if ((r.flags[i] & 1) === 0) continue;
      encodeEntry(b, p, ENTRY_ENQUEUED, r.locations[i], r.lengths[i], r.bodyLengths[i]);
      p += ENTRY_SIZE;
      const expiresAt = r.expiresAt?.[i] ?? Infinity;
      if (expiresAt !== Infinity) {
        encodeExpiryEntry(b, p, r.locations[i], expiresAt);
        p += ENTRY_SIZE;
      }
      if (r.flags[i] & 2) {
        encodeEntry(b, p, ENTRY_DELIVERED, r.locations[i], r.lengths[i], r.bodyLengths[i]);
        p += ENTRY_SIZE;
      }
    }
    const tmp = `${path}.tmp`;
    const fd = fs.openSync(tmp, "w");
    try {
      let done = 0;
      while (done < b.length) done += fs.writeSync(fd, b, done, b.length - done, done);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
    const j = new FileJournal(store, path, fs.openSync(path, "r+"), b.length, header.length, vhost, queue);
    j.#entries = r.live + extra;
    j.live = r.live;
    return j;
  }

  /** Hands the live entries found at start-up to their queue, once. */
  handOver(each: RecoveredEntry): void {
    const r = this.#replayed;
    this.#replayed = null;
    if (r === null) return;
    for (let i = 0; i < r.count; i++) {
      const f = r.flags[i];
      if (f & 1) {
        each(r.locations[i], r.lengths[i], r.bodyLengths[i], (f & 2) !== 0, r.expiresAt?.[i] ?? Infinity);
      }
    }
  }

  /** Room for one more entry in the pending buffer; returns where it goes. */
  #reserve(): number {
    if (this.#pendingUsed + ENTRY_SIZE > this.#pending.length) {
      const bigger = new Uint8Array(this.#pending.length * 2);
      bigger.set(this.#pending.subarray(0, this.#pendingUsed));
      this.#pending = bigger;
    }
    if (this.#pendingUsed === 0) this.#store.journalChanged(this);
    const at = this.#pendingUsed;
    this.#pendingUsed += ENTRY_SIZE;
    this.#entries++;
    return at;
  }

  #append(kind: number, location: number, length: number, bodyLength: number): void {
    if (this.#dropped) return;
    const at = this.#reserve(); // first: it may replace the buffer
    encodeEntry(this.#pending, at, kind, location, length, bodyLength);
  }

  enqueued(location: number, length: number, bodyLength: number, expiresAt: number): void {
    if (this.#dropped) return;
    this.#append(ENTRY_ENQUEUED, location, length, bodyLength);
    if (expiresAt !== Infinity) {
      const at = this.#reserve();
      encodeExpiryEntry(this.#pending, at, location, expiresAt);
    }
    this.live++;
    this.#store.retain(location);
  }

  delivered(location: number, length: number): void {
    this.#append(ENTRY_DELIVERED, location, length, 0);
  }

  removed(location: number, length: number): void {
    if (this.#dropped) return;
    this.#append(ENTRY_REMOVED, location, length, 0);
    this.live--;
    this.#store.release(location);
  }

  /** Writes pending entries to the file; compacts it when it is mostly dead entries. */
  writePending(): void {
    if (this.#dropped || this.#pendingUsed === 0) return;
    let done = 0;
    while (done < this.#pendingUsed) {
      done += fs.writeSync(this.#fd, this.#pending, done, this.#pendingUsed - done, this.#size + done);
    }
    this.#size += this.#pendingUsed;
    this.#pendingUsed = 0;
    if (this.#pending.length > 65536) this.#pending = new Uint8Array(4096);
    this.#store.markDirty(this.#fd);
    const dead = this.#entries - this.live;
    if (dead > COMPACT_MIN_DEAD && dead > 2 * this.live) this.#compact();
  }

  /** Rewrites the journal with only its live entries (same steps as after a restart). */
  #compact(): void {
    const { r } = replayFile(this.#path, this.#headerSize);
    fs.closeSync(this.#fd);
    const fresh = FileJournal.#rewrite(this.#store, this.#path, this.vhost, this.queue, r);
    this.#fd = fresh.#fd;
    this.#size = fresh.#size;
    this.#entries = fresh.#entries;
    this.live = fresh.live;
  }

  drop(): void {
    if (this.#dropped) return;
    this.#dropped = true;
    // Release what the journal still holds: replay it (it is about to be deleted anyway).
    this.writePending();
    const { r } = replayFile(this.#path, this.#headerSize);
    for (let i = 0; i < r.count; i++) if (r.flags[i] & 1) this.#store.release(r.locations[i]);
    this.#replayed = null;
    fs.closeSync(this.#fd);
    fs.rmSync(this.#path, { force: true });
    this.#store.forgetJournal(this);
  }

  /** Syncs and closes the file (clean stop). */
  close(): void {
    if (this.#dropped) return;
    fs.fsyncSync(this.#fd);
    fs.closeSync(this.#fd);
  }
}

/**
 * Replays journal entries: enqueued entries in order, delivered/removed entries applied to them.
 * Locations only grow within one journal (records are appended in publish order), so a binary
 * search finds an entry; a map takes over should that ever not hold. Damaged entries (checksum)
 * are skipped and counted; a partial entry at the end is ignored.
 */
function replayFile(path: string, headerSize: number): { r: Replayed; size: number } {
  const fd = fs.openSync(path, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const n = Math.max(0, Math.floor((size - headerSize) / ENTRY_SIZE));
    const r = emptyReplay(n);
    if (headerSize === 0) return { r, size };
    // Read in slices (a whole number of entries each), so a journal of ten million entries
    // costs its replay arrays, not also a copy of the file.
    const chunk = new Uint8Array(ENTRY_SIZE * 65536);
    const state = { index: null as Map<number, number> | null };
    for (let done = 0; done < n;) {
      const want = Math.min(n - done, 65536) * ENTRY_SIZE;
      let got = 0;
      while (got < want) {
        const k = fs.readSync(fd, chunk, got, want - got, headerSize + done * ENTRY_SIZE + got);
        if (k === 0) break;
        got += k;
      }
      const entries = Math.floor(got / ENTRY_SIZE);
      if (entries === 0) break;
      replayEntries(chunk, entries, r, n, state);
      done += entries;
    }
    return { r, size };
  } finally {
    fs.closeSync(fd);
  }
}

function emptyReplay(n: number): Replayed {
  return {
    locations: new Float64Array(n),
    lengths: new Uint32Array(n),
    bodyLengths: new Uint32Array(n),
    flags: new Uint8Array(n),
    expiresAt: null,
    count: 0,
    live: 0,
    damaged: 0,
    removed: 0,
  };
}

/** Applies `entries` entries from `b` to `r` (see replayFile). */
function replayEntries(
  b: Uint8Array,
  entries: number,
  r: Replayed,
  n: number,
  state: { index: Map<number, number> | null },
): void {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let index = state.index;
  const find = (loc: number): number => {
    if (index !== null) return index.get(loc) ?? -1;
    let lo = 0;
    let hi = r.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = r.locations[mid];
      if (v === loc) return mid;
      if (v < loc) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };
  for (let i = 0, at = 0; i < entries; i++, at += ENTRY_SIZE) {
    if (!entryIntact(b, at)) {
      r.damaged++;
      continue;
    }
    const kind = b[at];
    const loc = d.getUint32(at + 4) * TWO_32 + d.getUint32(at + 8);
    if (kind === ENTRY_ENQUEUED) {
      const k = r.count++;
      if (index === null && k > 0 && r.locations[k - 1] >= loc) {
        index = state.index = new Map();
        for (let j = 0; j < k; j++) index.set(r.locations[j], j);
      }
      index?.set(loc, k);
      r.locations[k] = loc;
      r.lengths[k] = d.getUint32(at + 12);
      r.bodyLengths[k] = d.getUint32(at + 16);
      r.flags[k] = 1;
      r.live++;
    } else if (kind === ENTRY_EXPIRES) {
      const k = find(loc);
      if (k < 0 || (r.flags[k] & 1) === 0) continue;
      (r.expiresAt ??= new Float64Array(n).fill(Infinity))[k] = d.getFloat64(at + 12);
    } else if (kind === ENTRY_DELIVERED || kind === ENTRY_REMOVED) {
      const k = find(loc);
      if (k < 0 || (r.flags[k] & 1) === 0) continue;
      if (kind === ENTRY_DELIVERED) r.flags[k] |= 2;
      else {
        r.flags[k] = 0;
        r.live--;
        r.removed++;
      }
    } else r.damaged++;
  }
}

// ---------------------------------------------------------------- plugin key-value logs

/** A plugin's key-value map, kept as an append-only log, compacted when mostly overwritten. */
class FileKeyValue implements KeyValueStore {
  readonly #store: FileStore;
  readonly #path: string;
  #fd: number;
  #size: number;
  readonly #map = new Map<string, Uint8Array>();
  #pending: Uint8Array[] = [];
  /** Bytes of records in the file and pending, for deciding when to compact. */
  #logBytes = 0;
  #liveBytes = 0;

  constructor(store: FileStore, path: string) {
    this.#store = store;
    this.#path = path;
    let b: Uint8Array | null = null;
    try {
      const bytes = fs.readFileSync(path);
      b = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch {
      // none yet
    }
    if (b !== null && b.length > 0) {
      const { good, problem } = replayKv(b, this.#map);
      if (problem !== null) {
        store.log.error("store: key-value log damaged; intact records kept", {
          file: path,
          problem,
          cutAt: good,
        });
      }
    }
    for (const [k, v] of this.#map) this.#liveBytes += k.length + v.length + 11;
    this.#fd = -1;
    this.#size = 0;
    this.#rewrite();
  }

  /** Writes the map as a fresh log (temp file, fsync, rename) and reopens it for appending. */
  #rewrite(): void {
    const parts: Uint8Array[] = [kvHeader()];
    for (const [k, v] of this.#map) parts.push(encodeKv(KV_SET, k, v));
    const tmp = `${this.#path}.tmp`;
    const fd = fs.openSync(tmp, "w");
    let size = 0;
    try {
      for (const p of parts) {
        fs.writeSync(fd, p, 0, p.length, size);
        size += p.length;
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.#path);
    if (this.#fd >= 0) fs.closeSync(this.#fd);
    this.#fd = fs.openSync(this.#path, "r+");
    this.#size = size;
    this.#logBytes = size;
  }

  set(key: string, value: Uint8Array): void {
    const old = this.#map.get(key);
    if (old !== undefined) this.#liveBytes -= key.length + old.length + 11;
    this.#map.set(key, value);
    this.#liveBytes += key.length + value.length + 11;
    this.#queue(encodeKv(KV_SET, key, value));
  }

  delete(key: string): void {
    const old = this.#map.get(key);
    if (old === undefined) return;
    this.#liveBytes -= key.length + old.length + 11;
    this.#map.delete(key);
    this.#queue(encodeKv(KV_DELETE, key, null));
  }

  entries(): IterableIterator<[string, Uint8Array]> {
    return this.#map.entries();
  }

  #queue(record: Uint8Array): void {
    if (this.#pending.length === 0) this.#store.journalChanged(this);
    this.#pending.push(record);
    this.#logBytes += record.length;
  }

  writePending(): void {
    if (this.#pending.length === 0) return;
    if (this.#logBytes > 1024 * 1024 && this.#logBytes > 4 * this.#liveBytes) {
      this.#pending = [];
      this.#rewrite();
      return;
    }
    let total = 0;
    for (const p of this.#pending) total += p.length;
    const b = new Uint8Array(total);
    let at = 0;
    for (const p of this.#pending) {
      b.set(p, at);
      at += p.length;
    }
    this.#pending = [];
    let done = 0;
    while (done < total) done += fs.writeSync(this.#fd, b, done, total - done, this.#size + done);
    this.#size += total;
    this.#store.markDirty(this.#fd);
  }

  /** Syncs and closes the file (clean stop). */
  close(): void {
    fs.fsyncSync(this.#fd);
    fs.closeSync(this.#fd);
  }
}
