/**
 * Queue: ready messages in order, and the consumers that take them.
 *
 * Owns the ready deque, round-robin choice among consumers that have credit, requeueing at the
 * head in original order, and the queue's flags. It does not own unacked messages: those sit in
 * the unacked list of the channel they were delivered on until acked or requeued.
 *
 * With a store attached, a durable queue journals its persistent messages (enqueued, first
 * delivered, removed for good), and every FIFO queue keeps at most a window of ready messages
 * in memory: the rest wait on disk in a `PagedList` and come back in order as the window drains.
 *
 * @module
 */

import type { FieldTable, FieldValue } from "../wire/field_table.ts";
import type { Consumer } from "./consumer.ts";
import { Deque } from "./deque.ts";
import { MessageStats } from "./stats.ts";
import { ExpiryHeap } from "./expiry_heap.ts";
import { PriorityDeque } from "./priority_deque.ts";
import { Delivery, hasHeaders, type Message, withDeliveryCount } from "./message.ts";
import type { DeadLetterReason, Owner, QueueHook, QueueMessageInput, Router } from "./router.ts";
import { type Policy, policyNumber } from "./policies.ts";
import { type KeyValueStore, type MessageStore, PagedList, type QueueJournal } from "./store.ts";

/** What a full queue does with one more message (`x-overflow`). */
export type Overflow = "drop-head" | "reject-publish" | "reject-publish-dlx";

/** Length limits from `x-max-length`, `x-max-length-bytes` and `x-overflow` (ready messages only). */
export interface QueueLimits {
  readonly maxLength: number;
  readonly maxLengthBytes: number;
  readonly overflow: Overflow;
}

/** No limits. */
export const UNLIMITED: QueueLimits = {
  maxLength: Infinity,
  maxLengthBytes: Infinity,
  overflow: "drop-head",
};

/** Receives the messages a queue lets go of (rejected, over its limit…), for dead-lettering. */
export type DeadLetterSink = (queue: Queue, message: Message, reason: DeadLetterReason) => void;

/** Declare-time properties of a queue. */
export interface QueueOptions {
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly args: FieldTable;
  /** The connection that owns an exclusive queue (an identity token), or null. */
  readonly owner: object | null;
  /** Length limits, parsed from `args` by the vhost. @default UNLIMITED */
  readonly limits?: QueueLimits;
  /** `x-message-ttl` in ms. @default Infinity */
  readonly messageTtl?: number;
  /** `x-expires` in ms: the queue is deleted after this long unused. @default Infinity */
  readonly expires?: number;
  /** `x-delivery-limit`: returns after which a message is dead-lettered. @default Infinity */
  readonly deliveryLimit?: number;
  /** `x-max-priority` (1..255): deliver by message priority. 0 or absent: FIFO. */
  readonly maxPriority?: number;
  /** `x-consumer-timeout` in ms: a consumer holding a delivery longer is cancelled. @default Infinity */
  readonly consumerTimeout?: number;
  /** Coarse broker time in ms. @default Date.now */
  readonly clock?: () => number;
  /** Ready messages kept in memory before new ones are paged to disk (with a store). */
  readonly window?: QueueWindow;
}

/** How much of a queue stays in memory when a store is attached. */
export interface QueueWindow {
  /** Ready messages in memory before paging starts. */
  readonly messages: number;
  /** Body bytes of ready messages in memory before paging starts. */
  readonly bytes: number;
}

/** The default window: enough to keep consumers fed from memory, small enough for many queues. */
export const DEFAULT_WINDOW: QueueWindow = { messages: 8192, bytes: 16 * 1024 * 1024 };

/** Messages read back from disk at a time when the window drains. */
const PAGE_IN_BATCH = 512;

/** A classic in-memory queue. */
export class Queue implements Owner {
  /** Ready deliveries: FIFO, or by priority under `x-max-priority`. */
  readonly #ready: Deque<Delivery> | PriorityDeque;
  /** Body bytes of the ready messages in memory (for `x-max-length-bytes` and the window). */
  #bytes = 0;
  /** Ready messages on disk, after those in memory (only with a store). */
  readonly #paged = new PagedList();
  /**
   * Paged messages due before some message ahead of them (a per-message `expiration` shorter
   * than an earlier one's): each is expired in place when due. Messages due in queue order need
   * no entry: they are expired from the head of the paged list.
   */
  #pagedTimers: ExpiryHeap<{ expiresAt: number; index: number }> | null = null;
  /** Latest expiry time among the messages paged since the paged list was last empty. */
  #pagedLatest = -Infinity;
  readonly #window: QueueWindow;
  /** The message store, for journaling and paging; null keeps everything in memory. */
  #store: MessageStore | null = null;
  /** This queue's journal: durable queues in a broker with a store. */
  #journal: QueueJournal | null = null;
  // Effective settings: from the arguments, recomputed with the policy by applyPolicy() (so the
  // publish path reads plain fields, never a policy).
  limits: QueueLimits;
  messageTtl: number;
  expires: number;
  deliveryLimit: number;
  /** The policy in force (set through applyPolicy), or null. */
  policy: Policy | null = null;
  readonly consumerTimeout: number;
  readonly #clock: () => number;
  /** Deliveries with a finite expiry, soonest first (per-message TTL expires anywhere in the queue). */
  readonly #expiry = new ExpiryHeap<Delivery>();
  /** Entries still in the ready deque that already expired (dropped lazily when they reach the head). */
  #stale = 0;
  /** The message being enqueued while it is offered to waiting consumers (a TTL of 0 still allows that). */
  #fresh: Delivery | null = null;
  /** Last time the queue was used (declared, consumed from, fetched from), for `x-expires`. */
  lastUsed = 0;
  /** Hooks of `queue`-stage plugins (queue-level deduplication…); set by the vhost. */
  hooks: readonly QueueHook[] = [];
  /** Opens durable key-value maps for this queue's plugins; set by the vhost when there is a store. */
  keyValueFactory: ((namespace: string) => KeyValueStore) | null = null;
  /** Routers of the `dead-letter` stage for this queue; set by the vhost. */
  deadLetterStage: readonly { readonly plugin: string; readonly router: Router }[] = [];
  /** Where messages this queue lets go of are sent; set by the vhost. */
  onDeadLetter: DeadLetterSink | null = null;
  readonly #consumers: Consumer[] = [];
  #next = 0;
  /** Set once a consumer with a non-zero `x-priority` subscribes: consumers are then kept sorted. */
  #prioritised = false;
  #draining = false;
  /** Set once any consumer has subscribed: auto-delete only fires after that. */
  hadConsumer = false;
  /** Set when the queue is deleted; deliveries and requeues to it are dropped. */
  deleted = false;
  /** Message counters (management API, metrics). */
  readonly stats = new MessageStats();
  /**
   * Deliveries of this queue held unacknowledged by channels (consumed or fetched with
   * basic.get, cancelled consumers' included), and their body bytes: kept up to date by the
   * channels that hold them, for the management API and metrics.
   */
  unackedCount = 0;
  unackedBytes = 0;
  /** Routing epoch mark, used by the vhost to remove duplicates without a Set per publish. */
  routeMark = 0;
  /**
   * When the queue went idle (ms, the broker's clock), 0 while active: the first `checkIdle()`
   * that found no activity since the one before (RabbitMQ's `idle_since`, when a classic queue
   * hibernates after a second without work).
   */
  idleSince = 0;
  /** The activity sum `checkIdle()` saw last (-1: never checked, so the first check sees activity). */
  #activity = -1;

  /**
   * @param name queue name
   * @param vhost vhost name
   * @param options flags, arguments and exclusive owner
   */
  constructor(readonly name: string, readonly vhost: string, readonly options: QueueOptions) {
    this.limits = options.limits ?? UNLIMITED;
    this.#ready = options.maxPriority ? new PriorityDeque(options.maxPriority) : new Deque<Delivery>();
    this.messageTtl = options.messageTtl ?? Infinity;
    this.expires = options.expires ?? Infinity;
    this.deliveryLimit = options.deliveryLimit ?? Infinity;
    this.consumerTimeout = options.consumerTimeout ?? Infinity;
    this.#clock = options.clock ?? Date.now;
    this.lastUsed = this.#clock();
    this.#window = options.window ?? DEFAULT_WINDOW;
  }

  /**
   * Attaches the message store: paging for every FIFO queue, and a journal for a durable one
   * (persistent messages are then written and survive a restart).
   */
  attachStore(store: MessageStore, journal: QueueJournal | null): void {
    this.#store = store;
    this.#journal = journal;
  }

  /**
   * A message found in the journal at start-up: queued at the tail, on disk until needed. It
   * keeps the expiry time it had (a TTL counts from the original enqueue, across restarts).
   */
  restore(location: number, length: number, bodyLength: number, delivered: boolean, expiresAt: number): void {
    this.#pushPaged(location, length, bodyLength, delivered, true, expiresAt);
  }

  /** Appends to the paged list, with a timer when it is due before a message ahead of it. */
  #pushPaged(
    location: number,
    length: number,
    bodyLength: number,
    redelivered: boolean,
    journaled: boolean,
    expiresAt: number,
  ): void {
    const paged = this.#paged;
    if (paged.length === 0) this.#pagedLatest = -Infinity;
    paged.push(location, length, bodyLength, { redelivered, journaled }, expiresAt);
    if (expiresAt < this.#pagedLatest) {
      (this.#pagedTimers ??= new ExpiryHeap()).push({ expiresAt, index: paged.headIndex + paged.length - 1 });
    }
    if (expiresAt > this.#pagedLatest) this.#pagedLatest = expiresAt;
  }

  /** Ready messages waiting on disk (not counted in memory). */
  get pagedCount(): number {
    return this.#paged.live;
  }

  /** Body bytes of the ready messages waiting on disk. */
  get pagedBytes(): number {
    return this.#paged.bodyBytes;
  }

  /** Persistent messages the queue's journal holds (ready or unacked); 0 without a journal. */
  get persistentCount(): number {
    return this.#journal?.live ?? 0;
  }

  /**
   * Called by the vhost about once a second (never per message): notes whether anything
   * happened to the queue since the last call (a publish, delivery, get, ack, declare, consume
   * or cancel), from counters that are kept anyway, and sets `idleSince` accordingly. The sum
   * of monotonic counters changes whenever any of them moves.
   *
   * @internal
   */
  checkIdle(now: number): void {
    const s = this.stats;
    const activity = s.publish + s.deliver + s.deliverNoAck + s.get + s.getNoAck + s.getEmpty + s.ack +
      this.lastUsed;
    if (activity !== this.#activity) {
      this.#activity = activity;
      this.idleSince = 0;
    } else if (this.idleSince === 0) this.idleSince = now;
  }

  /** Marks the queue used now (for `x-expires`). */
  touch(): void {
    this.lastUsed = this.#clock();
  }

  /** @inheritdoc */
  effectiveArg(xArg: string, policyKey: string): FieldValue | undefined {
    const v = this.options.args[xArg];
    if (v !== undefined || this.policy === null) return v;
    return this.policy.definition[policyKey] as FieldValue | undefined;
  }

  /**
   * Puts a policy (or none) in force and recomputes the settings, as RabbitMQ 3.10 resolves
   * them for a classic queue: for `max-length`, `max-length-bytes`, `message-ttl`, `expires` and
   * `delivery-limit` the lower of argument and policy wins; for `overflow` the argument. A lower
   * length limit with `drop-head` trims the queue at once (dead-lettered as `maxlen`); a new
   * TTL applies to messages enqueued from now on; the `expires` countdown starts again.
   */
  applyPolicy(policy: Policy | null): void {
    this.policy = policy;
    const o = this.options;
    const args = o.limits ?? UNLIMITED;
    const maxLength = Math.min(args.maxLength, policyNumber(policy, "max-length"));
    const maxLengthBytes = Math.min(args.maxLengthBytes, policyNumber(policy, "max-length-bytes"));
    const fromPolicy = policy?.definition.overflow;
    const overflow: Overflow = o.args["x-overflow"] === undefined && typeof fromPolicy === "string"
      ? fromPolicy as Overflow
      : args.overflow;
    this.limits = maxLength === Infinity && maxLengthBytes === Infinity && overflow === "drop-head"
      ? UNLIMITED
      : { maxLength, maxLengthBytes, overflow };
    this.messageTtl = Math.min(o.messageTtl ?? Infinity, policyNumber(policy, "message-ttl"));
    this.expires = Math.min(o.expires ?? Infinity, policyNumber(policy, "expires"));
    this.deliveryLimit = Math.min(o.deliveryLimit ?? Infinity, policyNumber(policy, "delivery-limit"));
    this.touch();
    if (this.limits.overflow === "drop-head" && this.limits !== UNLIMITED) this.#dropOverflow();
  }

  /** Body bytes of the ready messages. */
  get messageBytes(): number {
    return this.#bytes + this.#paged.bodyBytes;
  }

  /** Hands a message to the dead-letter stage (a no-op without a dead-letter exchange). */
  deadLetter(message: Message, reason: DeadLetterReason): void {
    if (this.deadLetterStage.length > 0) this.onDeadLetter?.(this, message, reason);
  }

  /** Ready messages (not counting unacked ones). */
  get messageCount(): number {
    return this.#ready.length - this.#stale + this.#paged.live;
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

  /**
   * Adds a published message at the tail and delivers what can be delivered. A queue at its
   * length limit drops its head (dead-lettered as `maxlen`), or refuses the new message.
   * @returns false when the queue refused the message (`reject-publish…`): the publisher's
   *   confirm is then a nack
   */
  enqueue(message: Message): boolean {
    // A queue-stage plugin may refuse the message (a duplicate): dropped, yet confirmed.
    if (this.hooks.length !== 0 && !this.#accepted(message)) return true;
    const limits = this.limits;
    if (
      limits.overflow !== "drop-head" &&
      (this.messageCount >= limits.maxLength ||
        this.messageBytes + message.body.length > limits.maxLengthBytes)
    ) {
      if (limits.overflow === "reject-publish-dlx") this.deadLetter(message, "maxlen");
      return false;
    }
    this.stats.publish++;
    const ttl = Math.min(this.messageTtl, message.ttl);
    const store = this.#store;
    let journaled = false;
    const expiresAt = ttl === Infinity ? Infinity : this.#clock() + ttl;
    if (store !== null) {
      if (this.#journal !== null && message.persistent) {
        store.write(message);
        this.#journal.enqueued(message.location, message.recordLength, message.body.length, expiresAt);
        message.journaled = journaled = true;
      }
      if (this.#shouldPage() && ttl !== 0) {
        // Past the window: the message waits on disk, behind those already there.
        if (!journaled) {
          store.write(message);
          store.retain(message.location);
        }
        this.#pushPaged(
          message.location,
          message.recordLength,
          message.body.length,
          false,
          journaled,
          expiresAt,
        );
        if (limits !== UNLIMITED) this.#dropOverflow();
        if (this.#consumers.length > 0 && this.#ready.length === 0) this.drain();
        return true;
      }
    }
    const d = new Delivery(message, this);
    d.ready = true;
    if (journaled) {
      d.location = message.location;
      d.recordLength = message.recordLength;
    }
    if (ttl !== Infinity) {
      d.expiresAt = expiresAt;
      this.#expiry.push(d);
    }
    this.#ready.push(d);
    this.#bytes += message.body.length;
    if (this.#consumers.length > 0) {
      this.#fresh = d;
      this.drain();
      this.#fresh = null;
    }
    if (ttl === 0 && d.ready) {
      // TTL 0: delivered only if a consumer could take it at once; otherwise it expires now.
      d.ready = false;
      this.#stale++;
      this.#bytes -= message.body.length;
      this.deadLetter(message, "expired");
      this.settled(d);
    }
    if (limits !== UNLIMITED) this.#dropOverflow();
    return true;
  }

  /** True when a new message should go to disk: some already wait there, or memory is full. */
  #shouldPage(): boolean {
    return this.#paged.length > 0 ||
      (this.#ready.length - this.#stale >= this.#window.messages || this.#bytes >= this.#window.bytes) &&
        !(this.#ready instanceof PriorityDeque);
  }

  /**
   * Reads paged messages back into memory, in order, up to a batch. A record that is missing
   * or damaged (reported by the store) is dropped. Returns false when nothing was left on disk.
   */
  #pageIn(): boolean {
    const paged = this.#paged;
    const store = this.#store!;
    if (paged.length === 0) return false;
    const room = Math.max(1, Math.min(PAGE_IN_BATCH, this.#window.messages - this.#ready.length));
    for (let n = 0; n < room && paged.length > 0; n++) {
      if (paged.headDead) {
        paged.shift(); // expired in place already: dead-lettered and released
        n--;
        continue;
      }
      const location = paged.headLocation;
      const length = paged.headLength;
      const journaled = paged.headJournaled;
      const redelivered = paged.headRedelivered;
      const expiresAt = paged.headExpiresAt;
      const message = store.read(location, length);
      paged.shift(message === null ? -1 : message.body.length);
      if (!journaled) store.release(location);
      if (message === null) {
        if (journaled) this.#journal?.removed(location, length);
        continue;
      }
      const d = new Delivery(message, this, redelivered);
      d.ready = true;
      if (journaled) {
        d.location = location;
        d.recordLength = length;
      }
      if (expiresAt !== Infinity) {
        d.expiresAt = expiresAt;
        this.#expiry.push(d);
      }
      this.#ready.push(d);
      this.#bytes += message.body.length;
    }
    return true;
  }

  /**
   * A delivery left the queue for good (acked, rejected, expired, dropped, auto-acked): its
   * journal entry is closed and queue-stage plugins are told. Cheap for messages that were
   * never journaled in a queue without hooks.
   */
  settled(d: Delivery): void {
    if (d.location >= 0) {
      this.#journal?.removed(d.location, d.recordLength);
      d.location = -1;
    }
    if (this.hooks.length !== 0) this.#released(d.message);
  }

  /** Asks every queue-stage hook; a plugin that throws is logged and lets the message in. */
  #accepted(message: Message): boolean {
    const input = hookInput(message);
    for (let i = 0; i < this.hooks.length; i++) {
      try {
        if (!this.hooks[i].accept(input)) {
          // Hooks before this one accepted it: they hear that it is gone.
          for (let j = 0; j < i; j++) this.#callReleased(this.hooks[j], input);
          return false;
        }
      } catch (err) {
        this.onPluginError?.(err);
      }
    }
    return true;
  }

  #released(message: Message): void {
    const input = hookInput(message);
    for (const h of this.hooks) this.#callReleased(h, input);
  }

  #callReleased(h: QueueHook, input: QueueMessageInput): void {
    try {
      h.released(input);
    } catch (err) {
      this.onPluginError?.(err);
    }
  }

  /** Logs a queue-stage plugin's failure; set by the vhost. */
  onPluginError: ((err: unknown) => void) | null = null;

  /** @inheritdoc */
  keyValue(namespace: string): KeyValueStore | undefined {
    return this.options.durable && !this.options.exclusive ? this.keyValueFactory?.(namespace) : undefined;
  }

  /** A journaled delivery goes to a consumer for the first time: recovered later, it is redelivered. */
  markDelivered(d: Delivery): void {
    if (d.location >= 0 && !d.redelivered) this.#journal?.delivered(d.location, d.recordLength);
  }

  /** drop-head: the oldest ready messages go until the queue is within its limits. */
  #dropOverflow(): void {
    const { maxLength, maxLengthBytes } = this.limits;
    while (this.messageCount > maxLength || this.#bytes > maxLengthBytes) {
      const d = this.#shift();
      if (d === undefined) break;
      this.deadLetter(d.message, "maxlen");
      this.settled(d);
    }
  }

  /** The next live ready delivery: stale (expired) entries are dropped, and one found expired is expired. */
  #shift(): Delivery | undefined {
    for (;;) {
      const d = this.#ready.shift();
      if (d === undefined) {
        if (this.#pageIn()) continue;
        return undefined;
      }
      if (!d.ready) {
        this.#stale--;
        continue;
      }
      d.ready = false;
      this.#bytes -= d.message.body.length;
      if (d.expiresAt !== Infinity && d.expiresAt <= this.#clock() && d !== this.#fresh) {
        // Never deliver an expired message, even between two expiry sweeps.
        this.deadLetter(d.message, "expired");
        this.settled(d);
        continue;
      }
      return d;
    }
  }

  /**
   * Expires every ready message whose time has come, wherever it is in the queue (an expiry
   * heap, not a scan); each is dead-lettered with reason `expired`. Called on the broker's tick.
   */
  expire(now: number): void {
    const heap = this.#expiry;
    while (heap.length > 0 && heap.peek()!.expiresAt <= now) {
      const d = heap.pop()!;
      if (!d.ready) continue; // delivered, or already expired: a stale heap entry
      d.ready = false;
      this.#stale++;
      this.#bytes -= d.message.body.length;
      this.deadLetter(d.message, "expired");
      this.settled(d);
    }
    // Expired entries at the head go at once, so the deque does not hold them until a delivery.
    while (this.#ready.length > 0 && !this.#ready.peek()!.ready) {
      this.#ready.shift();
      this.#stale--;
    }
    this.#expirePaged(now);
  }

  /**
   * Expires paged messages in place, without reading them back into memory first: those due
   * out of queue order through their timers, then those at the head of the paged list.
   */
  #expirePaged(now: number): void {
    const paged = this.#paged;
    const timers = this.#pagedTimers;
    while (timers !== null && timers.length > 0 && timers.peek()!.expiresAt <= now) {
      const index = timers.pop()!.index;
      const e = paged.entry(index); // null: paged back in (then timed in memory), or gone
      if (e !== null) paged.kill(index, this.#expireStored(e.location, e.length, e.journaled));
    }
    for (;;) {
      while (paged.length > 0 && paged.headDead) paged.shift();
      if (paged.length === 0 || paged.headExpiresAt > now) break;
      const bodyLength = this.#expireStored(paged.headLocation, paged.headLength, paged.headJournaled);
      paged.shift(bodyLength);
    }
  }

  /**
   * A paged message expired: read it for its dead-letter exchange (and queue-stage hooks), then
   * close its journal entry or release its record. Returns its body length (-1 if unreadable).
   */
  #expireStored(location: number, length: number, journaled: boolean): number {
    const store = this.#store!;
    const message = store.read(location, length);
    if (message !== null) {
      this.deadLetter(message, "expired");
      if (this.hooks.length !== 0) this.#released(message);
    }
    if (journaled) this.#journal?.removed(location, length);
    else store.release(location);
    return message === null ? -1 : message.body.length;
  }

  /** Takes the head for basic.get. */
  take(): Delivery | undefined {
    return this.#shift();
  }

  /**
   * Puts deliveries back at the head, marked redelivered, keeping their relative order.
   * `deliveries` must be in the order they were taken (ascending delivery tag).
   */
  requeue(deliveries: readonly Delivery[]): void {
    if (this.deleted) return;
    const limit = this.deliveryLimit;
    for (let i = deliveries.length - 1; i >= 0; i--) {
      const d = deliveries[i];
      if (limit !== Infinity) {
        // x-delivery-limit: past the limit a returning message is parked (dead-lettered with
        // reason delivery_limit, or dropped without a DLX) instead of being redelivered again.
        d.returns++;
        if (d.returns > limit) {
          this.deadLetter(d.message, "delivery_limit");
          this.settled(d);
          continue;
        }
        d.message = withDeliveryCount(d.message, d.returns);
      }
      d.redelivered = true;
      d.tag = 0;
      d.consumer = null;
      d.ready = true;
      if (d.expiresAt !== Infinity) this.#expiry.push(d); // it keeps its original expiry
      this.#ready.unshift(d);
      this.#bytes += d.message.body.length;
    }
    this.drain();
  }

  /**
   * The queue is being deleted: its ready messages go, and its journal with everything in it
   * (unacked deliveries settled later find no journal).
   */
  dropMessages(): number {
    const journal = this.#journal;
    this.#journal = null;
    const hooks = this.hooks;
    this.hooks = []; // deleted: no per-message releases, one `deleted` each
    const n = this.purge();
    journal?.drop();
    for (const h of hooks) {
      try {
        h.deleted?.();
      } catch (err) {
        this.onPluginError?.(err);
      }
    }
    return n;
  }

  /** Removes all ready messages; returns how many. */
  purge(): number {
    const n = this.messageCount;
    if (this.#journal !== null || this.hooks.length !== 0) {
      for (let d = this.#ready.shift(); d !== undefined; d = this.#ready.shift()) {
        if (d.ready) this.settled(d);
      }
    }
    const paged = this.#paged;
    while (paged.length > 0) {
      if (paged.headDead) {
        paged.shift();
        continue;
      }
      if (this.hooks.length !== 0) {
        // Hooks hear of every message that goes: read paged ones back to tell them.
        const m = this.#store!.read(paged.headLocation, paged.headLength);
        if (m !== null) this.#released(m);
      }
      if (paged.headJournaled) this.#journal?.removed(paged.headLocation, paged.headLength);
      else this.#store!.release(paged.headLocation);
      paged.shift();
    }
    this.#ready.clear();
    this.#expiry.clear();
    this.#pagedTimers?.clear();
    this.#stale = 0;
    this.#bytes = 0;
    return n;
  }

  /** `x-single-active-consumer`: only the oldest consumer receives; the next takes over when it goes. */
  get singleActiveConsumer(): boolean {
    return this.options.args["x-single-active-consumer"] === true;
  }

  /** Subscribes a consumer and starts delivering to it. */
  addConsumer(consumer: Consumer): void {
    this.touch();
    const consumers = this.#consumers;
    const p = consumer.priority;
    if (p !== 0) this.#prioritised = true;
    if (this.#prioritised && !this.singleActiveConsumer) {
      // Kept sorted by priority, highest first; a newcomer goes after its equals.
      let i = consumers.length;
      while (i > 0 && consumers[i - 1].priority < p) i--;
      consumers.splice(i, 0, consumer);
    } else consumers.push(consumer);
    this.hadConsumer = true;
    this.drain();
  }

  /** Unsubscribes a consumer; returns false if it was not subscribed. */
  removeConsumer(consumer: Consumer): boolean {
    const i = this.#consumers.indexOf(consumer);
    if (i < 0) return false;
    this.#consumers.splice(i, 1);
    this.touch(); // x-expires counts from when the last consumer went
    if (this.#next > i) this.#next--;
    return true;
  }

  /** Detaches every consumer (queue deleted); returns them so their channels can be told. */
  removeAllConsumers(): Consumer[] {
    return this.#consumers.splice(0, this.#consumers.length);
  }

  /**
   * The consumer for the next message: the oldest one under single-active-consumer; otherwise
   * round-robin, among the highest-priority consumers that have credit when priorities are used.
   */
  #choose(): Consumer | null {
    const consumers = this.#consumers;
    const n = consumers.length;
    if (n === 0) return null;
    if (this.singleActiveConsumer) {
      const c = consumers[0];
      return c.channel.canDeliver(c) ? c : null;
    }
    if (!this.#prioritised) {
      for (let i = 0; i < n; i++) {
        const idx = (this.#next + i) % n;
        const c = consumers[idx];
        if (c.channel.canDeliver(c)) {
          this.#next = (idx + 1) % n;
          return c;
        }
      }
      return null;
    }
    // Sorted by priority: take the first level with a consumer that has credit; within a level,
    // the chosen consumer moves to the end of its level, which makes the level round-robin.
    for (let start = 0; start < n;) {
      const level = consumers[start].priority;
      let end = start;
      while (end < n && consumers[end].priority === level) end++;
      for (let k = start; k < end; k++) {
        const c = consumers[k];
        if (!c.channel.canDeliver(c)) continue;
        consumers.splice(k, 1);
        consumers.splice(end - 1, 0, c);
        return c;
      }
      start = end;
    }
    return null;
  }

  /**
   * Delivers ready messages to consumers with credit, round-robin, until either runs out.
   * Re-entrant calls (a delivery that triggers another drain) are folded into the running loop.
   */
  drain(): void {
    if (this.#draining || this.deleted) return;
    this.#draining = true;
    try {
      while (this.messageCount > 0) {
        const chosen = this.#choose();
        if (chosen === null) break;
        const d = this.#shift();
        if (d === undefined) break;
        chosen.channel.deliver(chosen, d);
      }
    } finally {
      this.#draining = false;
    }
  }
}

/** What a queue-stage hook sees of a message (headers decoded only when present). */
function hookInput(message: Message): QueueMessageInput {
  return {
    headers: hasHeaders(message.rawProperties) ? message.properties.headers : undefined,
    persistent: message.persistent,
  };
}
