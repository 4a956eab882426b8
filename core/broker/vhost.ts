/**
 * VHost: the namespace of exchanges and queues, and the routing loop.
 *
 * Owns declare / delete / bind / unbind with RabbitMQ's checks and wording, the built-in
 * exchanges every vhost has, and `route()`: it asks the exchange's router for destinations,
 * follows exchange-to-exchange destinations once each, and removes duplicate queues, without
 * allocating per publish (epoch marks instead of Sets, one reused result array).
 *
 * @module
 */

import {
  accessRefused,
  AmqpError,
  inequivalentArg,
  inequivalentArgValue,
  notFound,
  preconditionFailed,
  resourceLocked,
} from "../errors.ts";
import {
  EMPTY_TABLE,
  type FieldTable,
  fieldTypeName,
  type FieldValue,
  TypedField,
} from "../wire/field_table.ts";
import { Exchange, type ExchangeOptions } from "./exchange.ts";
import { ExpiryHeap } from "./expiry_heap.ts";
import { hasHeaders, Message, routingKeysOf, withDeath } from "./message.ts";
import { Reader } from "../wire/reader.ts";
import { Writer } from "../wire/writer.ts";
import {
  type Overflow,
  Queue,
  type QueueLimits,
  type QueueOptions,
  type QueueWindow,
  UNLIMITED,
} from "./queue.ts";
import { type MessageStore, ownerNamespace } from "./store.ts";
import { type ChurnStats, MessageStats } from "./stats.ts";
import { matchPolicy, type Policy } from "./policies.ts";
import {
  type Binding,
  type DeadLetterReason,
  type ExchangeTypePlugin,
  ListRouter,
  type QueueHook,
  type QueueStagePlugin,
  type RouteSink,
  sameTable,
  type StagePlugin,
} from "./router.ts";

/** Looks up plugins. */
export interface PluginLookup {
  /** The exchange-type plugin of that wire name. */
  exchangeType(name: string): ExchangeTypePlugin | undefined;
  /** Plugins of the `unroutable` stage, consulted for an exchange that routed nowhere. */
  unroutablePlugins(): readonly StagePlugin[];
  /** Plugins of the `dead-letter` stage, consulted for a message a queue lets go of. */
  deadLetterPlugins(): readonly StagePlugin[];
  /** Plugins of the `queue` stage, given a hook on every queue declared. */
  queuePlugins?(): readonly QueueStagePlugin[];
}

/** Coarse time and logging, from the broker. */
export interface VHostContext {
  /** Coarse time (advanced by the broker's tick). */
  now(): number;
  /** Exact time, for due times that must not come early. @default now */
  clock?(): number;
  log: { warn(msg: string, fields?: Record<string, unknown>): void };
  /** The message store, when the broker has one (queues journal and page through it). */
  store?(): MessageStore | null;
  /** Durable exchanges, queues or bindings changed (the store writes the definitions). */
  definitionsChanged?(): void;
  /** The broker's churn counters (queues declared, created, deleted). */
  churn?: ChurnStats;
  /** How much of each queue stays in memory when there is a store. */
  window?: QueueWindow;
}

/** How often queues are checked for idleness (`Queue.checkIdle`), ms. */
const IDLE_CHECK_MS = 1000;

/** Logs a plugin failure without taking the broker down. */
export type PluginErrorLog = (plugin: string, err: unknown) => void;

/** The exchanges every vhost has, with their types (declared only if the type's plugin is loaded). */
const BUILT_IN_EXCHANGES: readonly [string, string][] = [
  ["", "direct"],
  ["amq.direct", "direct"],
  ["amq.fanout", "fanout"],
  ["amq.topic", "topic"],
  ["amq.headers", "headers"],
  ["amq.match", "headers"],
];

/** Arguments of queue.declare / exchange.declare as the vhost needs them. */
export interface QueueDeclare extends QueueOptions {
  readonly name: string;
  readonly passive: boolean;
  /** True when the broker chose the name (`amq.gen-…`), which may use the reserved prefix. */
  readonly serverNamed?: boolean;
}

/** Arguments of exchange.declare. */
export interface ExchangeDeclare extends ExchangeOptions {
  readonly name: string;
  readonly type: string;
  readonly passive: boolean;
}

/** A virtual host. */
export class VHost {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Policies, by name (validated by the broker, which sets them through `putPolicy`). */
  readonly policies = new Map<string, Policy>();
  /**
   * Message counters of the vhost's closed channels (folded in as each closes) and of the
   * management API's publish and get. The vhost's `message_stats` are these plus its open
   * channels' counters, summed when read: a publish or delivery counts on its channel only.
   */
  readonly stats = new MessageStats();
  /** Last `checkIdle` pass over the queues (ms). */
  #idleCheckedAt = 0;
  /** Reverse index: the bindings that point at each queue, so deleting a queue removes them. */
  readonly #queueBindings = new Map<Queue, { exchange: Exchange; binding: Binding }[]>();

  // Routing state reused by every publish.
  #epoch = 0;
  readonly #routed: Queue[] = [];
  readonly #pending: Exchange[] = [];
  /** The routing key each pending exchange is routed with; undefined: the message's own keys. */
  readonly #pendingKeys: (string | undefined)[] = [];
  readonly #oneKey: string[] = [""];
  /** Destinations found by the router running now (duplicates included): 0 means "nowhere". */
  #hits = 0;
  readonly #input: {
    exchange: string;
    routingKey: string;
    headers: FieldTable | undefined;
    delayed: boolean;
  } = {
    exchange: "",
    routingKey: "",
    headers: undefined,
    delayed: false,
  };
  /** The exchange whose router runs now (a delay it asks for is held against it). */
  #current: Exchange | null = null;
  /** Delays asked for by the routing that just ran: `takeDelays()` hands them to the publisher. */
  readonly #delays: { exchange: Exchange; ms: number }[] = [];
  /** Messages held by delayed-delivery exchanges, soonest first. */
  readonly #delayed = new ExpiryHeap<DelayedMessage>();
  /** Last key used for a delayed message kept in the store. */
  #delayedSeq = 0;
  readonly #sink: RouteSink;

  /**
   * @param name vhost name
   * @param plugins exchange-type registry
   * @param onPluginError where plugin failures are logged
   */
  readonly #context: VHostContext;
  /** Dead-lettered messages waiting to be routed (see #deadLetter). */
  readonly #deadLetters: { queue: Queue; message: Message; reason: DeadLetterReason }[] = [];
  #deadLetterScheduled = false;
  /** Queue pairs whose dead-letter cycle was already logged (each is logged once). */
  readonly #loggedCycles = new Set<string>();

  constructor(
    readonly name: string,
    readonly plugins: PluginLookup,
    readonly onPluginError: PluginErrorLog,
    context: VHostContext = { now: () => Date.now(), log: { warn() {} } },
  ) {
    this.#context = context;
    const queues = this.queues;
    const exchanges = this.exchanges;
    const routed = this.#routed;
    const pending = this.#pending;
    const pendingKeys = this.#pendingKeys;
    // deno-lint-ignore no-this-alias
    const self = this;
    this.#sink = {
      queue(name: string): void {
        const q = queues.get(name);
        if (q === undefined) return;
        self.#hits++;
        if (q.routeMark !== self.#epoch) {
          q.routeMark = self.#epoch;
          routed.push(q);
        }
      },
      delay(ms: number): void {
        self.#hits++; // held for later counts as routed: no alternate exchange, no return
        if (self.#current !== null) self.#delays.push({ exchange: self.#current, ms });
      },
      exchange(name: string, routingKey?: string): void {
        const e = exchanges.get(name);
        if (e === undefined) return;
        self.#hits++;
        // Each exchange is followed once per publish, so a cycle of bindings ends here.
        if (e.routeMark !== self.#epoch) {
          e.routeMark = self.#epoch;
          pending.push(e);
          pendingKeys.push(routingKey);
        }
      },
    };
    for (const [exName, type] of BUILT_IN_EXCHANGES) {
      if (plugins.exchangeType(type)) {
        this.#createExchange(exName, type, {
          durable: true,
          autoDelete: false,
          internal: false,
          args: EMPTY_TABLE,
        });
      }
    }
  }

  // ---------------------------------------------------------------- routing (hot path)

  /**
   * Routes a publish and returns the distinct queues reached. `routingKeys` is the message's
   * routing key, or it plus the keys of its CC/BCC headers. Each exchange reached is followed
   * once; an exchange whose own router found no destination is handed to the `unroutable`
   * stage (the alternate exchange). The returned array is reused by the next call: consume it
   * before routing again.
   */
  route(
    exchange: Exchange,
    routingKeys: string | readonly string[],
    headers: FieldTable | undefined,
    delayed = false,
  ): readonly Queue[] {
    const routed = this.#routed;
    const pending = this.#pending;
    const pendingKeys = this.#pendingKeys;
    let keys: readonly string[];
    if (typeof routingKeys === "string") {
      this.#oneKey[0] = routingKeys;
      keys = this.#oneKey;
    } else keys = routingKeys;
    routed.length = 0;
    pending.length = 0;
    pendingKeys.length = 0;
    this.#epoch = (this.#epoch + 1) | 0;
    exchange.routeMark = this.#epoch;
    pending.push(exchange);
    pendingKeys.push(undefined);
    const input = this.#input;
    input.headers = headers;
    input.delayed = delayed;
    this.#delays.length = 0;
    for (let i = 0; i < pending.length; i++) {
      const ex = pending[i];
      this.#current = ex;
      const key = pendingKeys[i];
      input.exchange = ex.name;
      this.#hits = 0;
      try {
        if (key !== undefined) {
          input.routingKey = key;
          ex.router.route(input, this.#sink);
        } else {
          for (let k = 0; k < keys.length; k++) {
            input.routingKey = keys[k];
            ex.router.route(input, this.#sink);
          }
        }
      } catch (err) {
        throw this.#routeFailed(ex.type, err);
      }
      if (this.#hits === 0 && ex.unroutable.length > 0) {
        input.routingKey = key ?? keys[0];
        for (const stage of ex.unroutable) {
          try {
            stage.router.route(input, this.#sink);
          } catch (err) {
            throw this.#routeFailed(stage.plugin, err);
          }
        }
      }
    }
    return routed;
  }

  #routeFailed(plugin: string, err: unknown): AmqpError {
    if (err instanceof AmqpError) return err;
    this.onPluginError(plugin, err);
    return new AmqpError("INTERNAL_ERROR", `plugin '${plugin}' failed to route a message`);
  }

  /**
   * Timers, on the broker's tick: expires messages past their TTL, and deletes queues unused
   * for their `x-expires` (no consumers, not declared or fetched from in that time).
   */
  tick(now: number): void {
    this.#releaseDelayed(now);
    // Idle detection (`idle_since`) once a second, not on every tick: a few adds per queue.
    const checkIdle = now - this.#idleCheckedAt >= IDLE_CHECK_MS;
    if (checkIdle) this.#idleCheckedAt = now;
    for (const q of this.queues.values()) {
      if (checkIdle) q.checkIdle(now);
      q.expire(now);
      if (q.expires !== Infinity && q.consumerCount === 0 && now - q.lastUsed >= q.expires) {
        this.removeQueue(q);
      }
    }
  }

  // ---------------------------------------------------------------- delayed delivery

  /**
   * After `route()`: holds the message for each delay a router asked for (`RouteSink.delay`);
   * returns how many. Memory per held message is one small entry in a heap, beyond the message.
   */
  holdDelayed(message: Message, routingKeys: string | readonly string[]): number {
    const delays = this.#delays;
    const held = delays.length;
    if (held === 0) return 0;
    const now = this.#context.clock?.() ?? this.#context.now();
    const store = this.#context.store?.() ?? null;
    for (const d of delays) {
      // A persistent message held by a durable exchange waits in the store too (and its confirm
      // waits for the store's sync), so a restart does not lose it.
      const durable = store !== null && d.exchange.options.durable && message.persistent;
      const held: DelayedMessage = {
        expiresAt: now + d.ms,
        exchange: d.exchange,
        message,
        routingKeys,
        seq: durable ? ++this.#delayedSeq : 0,
      };
      if (durable) {
        store.keyValue(DELAYED_NAMESPACE).set(`${this.name}\0${held.seq}`, encodeDelayed(held));
        message.journaled = true;
      }
      this.#delayed.push(held);
    }
    delays.length = 0;
    return held;
  }

  /**
   * Start-up: the delayed messages this vhost held in the store go back into the heap (those of
   * exchanges that no longer exist are dropped).
   */
  restoreDelayed(): number {
    const store = this.#context.store?.() ?? null;
    if (store === null) return 0;
    const kv = store.keyValue(DELAYED_NAMESPACE);
    const prefix = `${this.name}\0`;
    let n = 0;
    for (const [key, value] of [...kv.entries()]) {
      if (!key.startsWith(prefix)) continue;
      const seq = Number(key.slice(prefix.length));
      this.#delayedSeq = Math.max(this.#delayedSeq, seq);
      const d = decodeDelayed(value);
      const exchange = this.exchanges.get(d.exchange);
      if (exchange === undefined) {
        kv.delete(key);
        continue;
      }
      this.#delayed.push({
        expiresAt: d.expiresAt,
        exchange,
        message: d.message,
        routingKeys: d.routingKeys,
        seq,
      });
      n++;
    }
    return n;
  }

  /** Messages held for delayed delivery. */
  get delayedCount(): number {
    return this.#delayed.length;
  }

  /** Routes the held messages that are due, in due order (at most RELEASE_PER_TICK a tick). */
  #releaseDelayed(now: number): void {
    const heap = this.#delayed;
    for (let n = 0; n < RELEASE_PER_TICK && heap.length > 0 && heap.peek()!.expiresAt <= now; n++) {
      const d = heap.pop()!;
      if (d.seq !== 0) this.#context.store?.()?.keyValue(DELAYED_NAMESPACE).delete(`${this.name}\0${d.seq}`);
      if (this.exchanges.get(d.exchange.name) !== d.exchange) continue; // its exchange was deleted
      const m = d.message;
      const headers = hasHeaders(m.rawProperties) ? m.properties.headers : undefined;
      try {
        const queues = [...this.route(d.exchange, d.routingKeys, headers, true)];
        for (const q of queues) q.enqueue(m);
      } catch (err) {
        this.onPluginError(d.exchange.type, err);
      }
    }
  }

  // ---------------------------------------------------------------- dead-lettering

  /**
   * Queues call this when they let go of a message. The work is deferred to a microtask: the
   * caller may be in the middle of enqueueing a routed message (drop-head), and routing again
   * there would reuse the routing state it is iterating.
   */
  readonly #enqueueDeadLetter = (queue: Queue, message: Message, reason: DeadLetterReason): void => {
    this.#deadLetters.push({ queue, message, reason });
    if (!this.#deadLetterScheduled) {
      this.#deadLetterScheduled = true;
      queueMicrotask(() => this.#flushDeadLetters());
    }
  };

  #flushDeadLetters(): void {
    this.#deadLetterScheduled = false;
    // Dead-lettering may dead-letter again (a full DLQ drops its head): the loop takes those too.
    for (let i = 0; i < this.#deadLetters.length; i++) {
      const { queue, message, reason } = this.#deadLetters[i];
      try {
        this.#deadLetter(queue, message, reason);
      } catch (err) {
        this.onPluginError("dead-letter", err);
      }
    }
    this.#deadLetters.length = 0;
  }

  /**
   * Asks the dead-letter stage where the message goes, records the death in its `x-death`
   * headers, and routes it there. A queue that would get the message back through a cycle with
   * no rejection in it (expired or maxlen all the way round) is skipped, as RabbitMQ does.
   */
  #deadLetter(queue: Queue, message: Message, reason: DeadLetterReason): void {
    const target: { exchange: string | null; routingKey: string | undefined } = {
      exchange: null,
      routingKey: undefined,
    };
    const sink: RouteSink = {
      queue() {}, // a dead-letter stage names an exchange; a bare queue is ignored
      exchange(name: string, routingKey?: string) {
        if (target.exchange === null) {
          target.exchange = name;
          target.routingKey = routingKey;
        }
      },
    };
    const input = { exchange: message.exchange, routingKey: message.routingKey, headers: undefined, reason };
    for (const stage of queue.deadLetterStage) {
      try {
        stage.router.route(input, sink);
      } catch (err) {
        this.onPluginError(stage.plugin, err);
        return;
      }
    }
    if (target.exchange === null) return;
    const exchange = this.exchanges.get(target.exchange);
    if (!exchange) return; // RabbitMQ drops a message whose dead-letter exchange does not exist
    const dead = withDeath(message, {
      queue: queue.name,
      reason,
      now: this.#context.now(),
      exchange: target.exchange,
      routingKey: target.routingKey,
    });
    const originalKeys = routingKeysOf(message);
    const keys = target.routingKey ?? originalKeys;
    const deaths = dead.properties.headers!["x-death"] as FieldTable[];
    // A backstop for loops the cycle rule lets through (each pass includes a rejection): a
    // message that has died this many times is dropped rather than circulate for ever.
    let hops = 0;
    for (const d of deaths) hops += Number(d.count?.valueOf() ?? 1);
    if (hops > MAX_DEAD_LETTER_HOPS) {
      this.#logDrop(
        `${queue.name}\u0000hops`,
        "dead-letter hop limit: message dropped",
        queue.name,
        "",
        reason,
      );
      return;
    }
    const routed = [...this.route(exchange, keys, dead.properties.headers)];
    for (const q of routed) {
      if (isCycle(deaths, q.name)) {
        this.#logDrop(
          `${queue.name}\u0000${q.name}`,
          "dead-letter cycle: message dropped",
          queue.name,
          q.name,
          reason,
        );
        continue;
      }
      q.enqueue(dead);
    }
  }

  /** Logs a dropped dead letter once per key (queue pair), not once per message. */
  #logDrop(key: string, msg: string, from: string, to: string, reason: DeadLetterReason): void {
    if (this.#loggedCycles.has(key)) return;
    this.#loggedCycles.add(key);
    this.#context.log.warn(msg, { vhost: this.name, from, to, reason });
  }

  // ---------------------------------------------------------------- queues

  /** queue.declare; returns the queue. `owner` identifies the declaring connection. */
  declareQueue(d: QueueDeclare): Queue {
    const existing = this.queues.get(d.name);
    if (d.passive) {
      if (!existing) throw notFound("queue", d.name, this.name);
      this.checkExclusive(existing, d.owner);
      existing.touch();
      return existing;
    }
    if (d.name.startsWith("amq.") && !d.serverNamed) {
      throw accessRefused(`queue name '${d.name}' contains reserved prefix 'amq.*'`);
    }
    if (existing) {
      this.checkExclusive(existing, d.owner);
      const o = existing.options;
      if (o.durable !== d.durable) {
        throw inequivalentArg("durable", "queue", d.name, this.name, d.durable, o.durable);
      }
      if (o.autoDelete !== d.autoDelete) {
        throw inequivalentArg("auto_delete", "queue", d.name, this.name, d.autoDelete, o.autoDelete);
      }
      if (o.exclusive !== d.exclusive) throw resourceLocked(d.name, this.name);
      checkEquivalentArgs(EQUIVALENCE_CHECKED_ARGS, d.args, o.args, "queue", d.name, this.name);
      existing.touch();
      if (this.#context.churn) this.#context.churn.queueDeclared++;
      return existing;
    }
    const q = new Queue(d.name, this.name, {
      durable: d.durable,
      exclusive: d.exclusive,
      autoDelete: d.autoDelete,
      args: d.args,
      owner: d.exclusive ? d.owner : null,
      limits: parseLimits(d.args, d.name, this.name),
      messageTtl: parseInteger(d.args, "x-message-ttl", d.name, this.name, 0),
      expires: parseInteger(d.args, "x-expires", d.name, this.name, 1),
      deliveryLimit: parseInteger(d.args, "x-delivery-limit", d.name, this.name, 0),
      maxPriority: parseMaxPriority(d.args, d.name, this.name),
      consumerTimeout: parseInteger(d.args, "x-consumer-timeout", d.name, this.name, 1),
      clock: this.#context.now,
      window: this.#context.window,
    });
    checkDeadLetterArgs(d.args, d.name, this.name);
    const queuePlugins = this.plugins.queuePlugins?.() ?? [];
    for (const p of queuePlugins) {
      if (!p.validate) continue;
      try {
        p.validate(d.args);
      } catch (err) {
        if (err instanceof AmqpError) throw err;
        this.onPluginError(p.name, err);
        throw new AmqpError("INTERNAL_ERROR", `plugin '${p.name}' failed to validate queue arguments`);
      }
    }
    const policy = this.policyFor("queues", d.name);
    if (policy !== null) q.applyPolicy(policy);
    const store = this.#context.store?.() ?? null;
    if (store !== null) {
      // Exclusive queues die with their connection, so never outlive a restart: no journal.
      q.attachStore(store, isRecovered(q) ? store.journal(this.name, d.name) : null);
      if (isRecovered(q)) this.#durableChanged();
    }
    q.deadLetterStage = this.plugins.deadLetterPlugins().map((p) => ({
      plugin: p.name,
      router: p.create(q),
    }));
    q.onDeadLetter = this.#enqueueDeadLetter;
    if (store !== null) {
      q.keyValueFactory = (ns) => store.keyValue(ownerNamespace(this.name, `queue:${d.name}`, ns));
    }
    const hooks: QueueHook[] = [];
    for (const p of queuePlugins) {
      const hook = p.create(q);
      if (hook !== undefined) hooks.push(hook);
    }
    q.hooks = hooks;
    q.onPluginError = (err) => this.onPluginError("queue stage", err);
    this.queues.set(d.name, q);
    this.#queueBindings.set(q, []);
    // Every queue is bound to the default exchange by its name (RabbitMQ's implicit binding).
    const defaultExchange = this.exchanges.get("");
    if (defaultExchange) {
      defaultExchange.router.bind({
        destination: { kind: "queue", name: q.name },
        routingKey: q.name,
        args: EMPTY_TABLE,
      });
    }
    const churn = this.#context.churn;
    if (churn) {
      churn.queueDeclared++;
      churn.queueCreated++;
    }
    return q;
  }

  /** A queue for an operation by `owner`: 404 if missing, 405 if another connection's exclusive queue. */
  queueFor(name: string, owner: object): Queue {
    const q = this.queues.get(name);
    if (!q) throw notFound("queue", name, this.name);
    this.checkExclusive(q, owner);
    return q;
  }

  /** 405 RESOURCE_LOCKED unless `owner` may use the queue. */
  checkExclusive(q: Queue, owner: object | null): void {
    if (q.options.owner !== null && q.options.owner !== owner) throw resourceLocked(q.name, this.name);
  }

  /**
   * queue.delete; returns the number of ready messages dropped. A missing queue is not an error
   * (RabbitMQ's delete is idempotent). Consumers are detached and returned to be notified.
   */
  deleteQueue(name: string, owner: object | null, ifUnused: boolean, ifEmpty: boolean): number {
    const q = this.queues.get(name);
    if (!q) return 0;
    if (owner !== null) this.checkExclusive(q, owner);
    if (ifUnused && q.consumerCount > 0) {
      throw preconditionFailed(`queue '${name}' in vhost '${this.name}' in use`);
    }
    if (ifEmpty && q.messageCount > 0) {
      throw preconditionFailed(`queue '${name}' in vhost '${this.name}' not empty`);
    }
    return this.removeQueue(q);
  }

  /** Removes a queue unconditionally: bindings, consumers (told via basic.cancel), messages. */
  removeQueue(q: Queue): number {
    if (q.deleted) return 0;
    const count = q.messageCount;
    q.deleted = true;
    this.queues.delete(q.name);
    if (this.#context.churn) this.#context.churn.queueDeleted++;
    for (const { exchange, binding } of this.#queueBindings.get(q) ?? []) {
      exchange.router.unbind(binding);
      this.#maybeAutoDeleteExchange(exchange);
    }
    this.#queueBindings.delete(q);
    this.exchanges.get("")?.router.unbind({
      destination: { kind: "queue", name: q.name },
      routingKey: q.name,
      args: EMPTY_TABLE,
    });
    for (const c of q.removeAllConsumers()) c.channel.cancelledByBroker(c);
    q.dropMessages();
    if (isRecovered(q)) this.#durableChanged();
    return count;
  }

  // ---------------------------------------------------------------- policies

  /**
   * Sets (adds or replaces) a validated policy and applies it at once: every queue and exchange
   * whose policy changes gets the new one (see `Queue.applyPolicy`).
   */
  putPolicy(policy: Policy): void {
    this.policies.set(policy.name, policy);
    this.#applyPolicies();
  }

  /** Clears a policy; the objects it applied to fall back to the next match or none. */
  deletePolicy(name: string): boolean {
    if (!this.policies.delete(name)) return false;
    this.#applyPolicies();
    return true;
  }

  /** The policy that applies to a queue or exchange of that name, or null. */
  policyFor(kind: "queues" | "exchanges", name: string): Policy | null {
    return this.policies.size === 0 ? null : matchPolicy(this.policies.values(), kind, name);
  }

  /** Re-matches every object (one pass per change of policy, never per message). */
  #applyPolicies(): void {
    for (const q of this.queues.values()) {
      const p = this.policyFor("queues", q.name);
      if (p !== q.policy) q.applyPolicy(p);
    }
    for (const e of this.exchanges.values()) e.policy = this.policyFor("exchanges", e.name);
  }

  // ---------------------------------------------------------------- exchanges

  /** exchange.declare. */
  declareExchange(d: ExchangeDeclare): Exchange {
    if (d.name === "") throw accessRefused("operation not permitted on the default exchange");
    const existing = this.exchanges.get(d.name);
    if (d.passive) {
      if (!existing) throw notFound("exchange", d.name, this.name);
      return existing;
    }
    if (d.name.startsWith("amq.") && !existing) {
      throw accessRefused(`exchange name '${d.name}' contains reserved prefix 'amq.*'`);
    }
    if (existing) {
      const o = existing.options;
      if (existing.type !== d.type) {
        throw inequivalentArg("type", "exchange", d.name, this.name, d.type, existing.type);
      }
      if (o.durable !== d.durable) {
        throw inequivalentArg("durable", "exchange", d.name, this.name, d.durable, o.durable);
      }
      if (o.autoDelete !== d.autoDelete) {
        throw inequivalentArg("auto_delete", "exchange", d.name, this.name, d.autoDelete, o.autoDelete);
      }
      if (o.internal !== d.internal) {
        throw inequivalentArg("internal", "exchange", d.name, this.name, d.internal, o.internal);
      }
      // RabbitMQ compares only this argument on an exchange redeclare.
      checkEquivalentArgs(["alternate-exchange"], d.args, o.args, "exchange", d.name, this.name);
      return existing;
    }
    const plugin = this.plugins.exchangeType(d.type);
    if (!plugin) throw new AmqpError("COMMAND_INVALID", `unknown exchange type '${d.type}'`);
    if (plugin.validate) {
      try {
        plugin.validate(d.args);
      } catch (err) {
        if (err instanceof AmqpError) throw err;
        this.onPluginError(plugin.name, err);
        throw new AmqpError("INTERNAL_ERROR", `exchange type '${d.type}' failed to validate arguments`);
      }
    }
    return this.#createExchange(d.name, d.type, d);
  }

  #createExchange(name: string, type: string, o: ExchangeOptions): Exchange {
    const plugin = this.plugins.exchangeType(type);
    const ex = new Exchange(name, this.name, type, {
      durable: o.durable,
      autoDelete: o.autoDelete,
      internal: o.internal,
      args: o.args,
    });
    ex.routerFactory = (other) => this.plugins.exchangeType(other)?.create(ex);
    ex.policy = this.policyFor("exchanges", name);
    const store = this.#context.store?.() ?? null;
    if (store !== null) ex.keyValueFactory = (ns) => store.keyValue(ownerNamespace(this.name, name, ns));
    ex.router = plugin ? plugin.create(ex) : new MissingTypeRouter(ex);
    ex.unroutable = this.plugins.unroutablePlugins().map((p) => ({ plugin: p.name, router: p.create(ex) }));
    this.exchanges.set(name, ex);
    if (o.durable) this.#durableChanged();
    return ex;
  }

  /** Tells the store that the durable definitions changed. */
  #durableChanged(): void {
    this.#context.definitionsChanged?.();
  }

  /** A binding kept across restarts: both ends durable (and the queue not exclusive). */
  #isDurableBinding(ex: Exchange, destination: Binding["destination"]): boolean {
    if (!ex.options.durable) return false;
    if (destination.kind === "exchange") {
      return this.exchanges.get(destination.name)?.options.durable === true;
    }
    const q = this.queues.get(destination.name);
    return q !== undefined && isRecovered(q);
  }

  /**
   * Re-creates an exchange from stored definitions (recovery, definitions import) with its
   * bindings, without the checks of a client's declare. If its type's plugin is not loaded, the
   * exchange still exists and keeps its bindings, but refuses publishes with 406 until the
   * plugin is registered (`pluginRegistered`).
   */
  restoreExchange(
    name: string,
    type: string,
    options: ExchangeOptions,
    bindings: readonly Binding[],
  ): Exchange {
    const ex = this.exchanges.get(name) ?? this.#createExchange(name, type, options);
    for (const b of bindings) {
      if (!this.#callBind(ex, b) || b.destination.kind !== "queue") continue;
      const q = this.queues.get(b.destination.name);
      if (q) this.#queueBindings.get(q)?.push({ exchange: ex, binding: b });
    }
    return ex;
  }

  /** A plugin was registered: exchanges waiting for its type get a real router and their bindings. */
  pluginRegistered(plugin: ExchangeTypePlugin): void {
    for (const ex of this.exchanges.values()) {
      if (ex.type !== plugin.name || !(ex.router instanceof MissingTypeRouter)) continue;
      const kept = [...ex.router.bindings()];
      ex.router = plugin.create(ex);
      for (const b of kept) this.#callBind(ex, b);
    }
  }

  /** An exchange by name, or 404. */
  exchangeFor(name: string): Exchange {
    const e = this.exchanges.get(name);
    if (!e) throw notFound("exchange", name, this.name);
    return e;
  }

  /** exchange.delete. A missing exchange is not an error. */
  deleteExchange(name: string, ifUnused: boolean): void {
    if (name === "") throw accessRefused("operation not permitted on the default exchange");
    if (name.startsWith("amq.")) {
      throw accessRefused(`deletion of system exchange '${name}' in vhost '${this.name}' not allowed`);
    }
    const ex = this.exchanges.get(name);
    if (!ex) return;
    // "In use" means it is the source of a binding; being a destination does not count (RabbitMQ).
    if (ifUnused && ex.router.size > 0) {
      throw preconditionFailed(`exchange '${name}' in vhost '${this.name}' in use`);
    }
    this.#removeExchange(ex);
  }

  #removeExchange(ex: Exchange): void {
    this.exchanges.delete(ex.name);
    if (ex.options.durable) this.#durableChanged();
    for (const b of [...ex.router.bindings()]) {
      ex.router.unbind(b);
      if (b.destination.kind === "queue") this.#forgetQueueBinding(b.destination.name, ex, b);
    }
    // Bindings from other exchanges to this one go too; an auto-delete source may go with them.
    for (const other of [...this.exchanges.values()]) {
      let removed = false;
      for (const b of [...other.router.bindings()]) {
        if (b.destination.kind === "exchange" && b.destination.name === ex.name) {
          removed = other.router.unbind(b) || removed;
        }
      }
      if (removed) this.#maybeAutoDeleteExchange(other);
    }
  }

  #forgetQueueBinding(queueName: string, ex: Exchange, b: Binding): void {
    const q = this.queues.get(queueName);
    const list = q && this.#queueBindings.get(q);
    if (!list) return;
    const i = list.findIndex((e) =>
      e.exchange === ex && e.binding.routingKey === b.routingKey && sameTable(e.binding.args, b.args)
    );
    if (i >= 0) list.splice(i, 1);
  }

  #maybeAutoDeleteExchange(ex: Exchange): void {
    if (ex.options.autoDelete && ex.router.size === 0 && this.exchanges.get(ex.name) === ex) {
      this.#removeExchange(ex);
    }
  }

  // ---------------------------------------------------------------- bindings

  /**
   * queue.bind. Checked in RabbitMQ's order: the default exchange (403), the source exchange,
   * then the queue (404, or 405 for another connection's exclusive queue).
   */
  bindQueue(
    queueName: string,
    owner: object,
    exchangeName: string,
    routingKey: string,
    args: FieldTable,
  ): void {
    if (exchangeName === "") throw accessRefused("operation not permitted on the default exchange");
    const ex = this.exchangeFor(exchangeName);
    const queue = this.queueFor(queueName, owner);
    const binding: Binding = { destination: { kind: "queue", name: queue.name }, routingKey, args };
    if (this.#callBind(ex, binding)) {
      this.#queueBindings.get(queue)?.push({ exchange: ex, binding });
      if (this.#isDurableBinding(ex, binding.destination)) this.#durableChanged();
    }
  }

  /** queue.unbind. Unbinding what is not bound, or from a missing exchange or queue, is not an error. */
  unbindQueue(
    queueName: string,
    owner: object,
    exchangeName: string,
    routingKey: string,
    args: FieldTable,
  ): void {
    if (exchangeName === "") throw accessRefused("operation not permitted on the default exchange");
    const ex = this.exchanges.get(exchangeName);
    const queue = this.queues.get(queueName);
    if (!ex || !queue) return;
    this.checkExclusive(queue, owner);
    const binding: Binding = { destination: { kind: "queue", name: queue.name }, routingKey, args };
    if (ex.router.unbind(binding)) {
      if (this.#isDurableBinding(ex, binding.destination)) this.#durableChanged();
      this.#forgetQueueBinding(queue.name, ex, binding);
      this.#maybeAutoDeleteExchange(ex);
    }
  }

  /** exchange.bind (destination ← source); the source is checked first, as RabbitMQ does. */
  bindExchange(destination: string, source: string, routingKey: string, args: FieldTable): void {
    if (destination === "" || source === "") {
      throw accessRefused("operation not permitted on the default exchange");
    }
    const src = this.exchangeFor(source);
    const dest = this.exchangeFor(destination);
    const binding: Binding = { destination: { kind: "exchange", name: dest.name }, routingKey, args };
    if (this.#callBind(src, binding) && this.#isDurableBinding(src, binding.destination)) {
      this.#durableChanged();
    }
  }

  /** exchange.unbind. Unbinding what is not bound, or a missing exchange, is not an error. */
  unbindExchange(destination: string, source: string, routingKey: string, args: FieldTable): void {
    if (destination === "" || source === "") {
      throw accessRefused("operation not permitted on the default exchange");
    }
    const src = this.exchanges.get(source);
    const binding: Binding = { destination: { kind: "exchange", name: destination }, routingKey, args };
    if (src && src.router.unbind(binding)) {
      if (this.#isDurableBinding(src, binding.destination)) this.#durableChanged();
      this.#maybeAutoDeleteExchange(src);
    }
  }

  #callBind(ex: Exchange, binding: Binding): boolean {
    try {
      return ex.router.bind(binding);
    } catch (err) {
      if (err instanceof AmqpError) throw err;
      this.onPluginError(ex.type, err);
      throw new AmqpError("INTERNAL_ERROR", `exchange type '${ex.type}' failed to bind`);
    }
  }
}

/** A queue that outlives a restart: durable and not exclusive. */
export function isRecovered(q: Queue): boolean {
  return q.options.durable && !q.options.exclusive;
}

/** Queue arguments RabbitMQ compares on redeclare. */
const EQUIVALENCE_CHECKED_ARGS = [
  "x-expires",
  "x-message-ttl",
  "x-dead-letter-exchange",
  "x-dead-letter-routing-key",
  "x-max-length",
  "x-max-length-bytes",
  "x-max-priority",
  "x-overflow",
  "x-queue-mode",
  "x-queue-type",
  "x-single-active-consumer",
  "x-delivery-limit",
] as const;

function checkEquivalentArgs(
  keys: readonly string[],
  received: FieldTable,
  current: FieldTable,
  kind: string,
  name: string,
  vhost: string,
): void {
  for (const key of keys) {
    const a = received[key];
    const b = current[key];
    if (a === undefined && b === undefined) continue;
    if (a !== undefined && b !== undefined && sameTable({ v: a }, { v: b })) continue;
    const described = (v: FieldValue | undefined) =>
      v === undefined ? undefined : { value: v, type: fieldTypeName(v) };
    throw inequivalentArgValue(key, kind, name, vhost, described(a), described(b));
  }
}

/**
 * Stands in for the router of an exchange whose type's plugin is not loaded: keeps the
 * bindings so nothing is lost, and refuses to route, in RabbitMQ's words.
 */
class MissingTypeRouter extends ListRouter {
  readonly #exchange: Exchange;

  constructor(exchange: Exchange) {
    super();
    this.#exchange = exchange;
  }

  route(): void {
    const ex = this.#exchange;
    throw preconditionFailed(
      `Cannot route message through exchange '${ex.name}' in vhost '${ex.vhost}': exchange type ${ex.type} not found`,
    );
  }
}

/**
 * True when sending a dead-lettered message to `target` closes a cycle that saw no rejection:
 * walking its deaths newest first, `target` comes up before any `rejected` one (RabbitMQ's rule).
 */
function isCycle(deaths: readonly FieldTable[], target: string): boolean {
  for (const d of deaths) {
    if (d.reason === "rejected") return false;
    if (d.queue === target) return true;
  }
  return false;
}

/** A message held by a delayed-delivery exchange until `expiresAt`. */
interface DelayedMessage {
  readonly expiresAt: number;
  readonly exchange: Exchange;
  readonly message: Message;
  readonly routingKeys: string | readonly string[];
  /** Its key in the store's delayed-messages map (persistent message, durable exchange); 0: none. */
  readonly seq: number;
}

/** The store's key-value namespace of held delayed messages (all vhosts). */
const DELAYED_NAMESPACE = "delayed-messages";

/** A held delayed message as stored: due time, routing keys, and the message itself. */
function encodeDelayed(d: DelayedMessage): Uint8Array {
  const m = d.message;
  const keys = typeof d.routingKeys === "string" ? [d.routingKeys] : d.routingKeys;
  const w = new Writer(64 + m.rawProperties.length + m.body.length);
  w.longlong(d.expiresAt);
  w.shortstr(d.exchange.name);
  w.short(keys.length);
  for (const k of keys) w.shortstr(k);
  w.shortstr(m.exchange);
  w.shortstr(m.routingKey);
  w.longstrBytes(m.rawProperties);
  w.longstrBytes(m.body);
  return w.written().slice();
}

function decodeDelayed(b: Uint8Array): {
  expiresAt: number;
  exchange: string;
  routingKeys: string[];
  message: Message;
} {
  const r = new Reader().reset(b);
  const expiresAt = r.longlong();
  const exchange = r.shortstr();
  const n = r.short();
  const routingKeys: string[] = [];
  for (let i = 0; i < n; i++) routingKeys.push(r.shortstr());
  const message = new Message(r.shortstr(), r.shortstr(), r.longstrBytes().slice(), r.longstrBytes().slice());
  return { expiresAt, exchange, routingKeys, message };
}

/**
 * Delayed messages released per tick (10 ticks a second): a million falling due together are
 * spread over a few seconds instead of stalling every connection for one long turn.
 */
const RELEASE_PER_TICK = 50_000;

/** Deaths (summed `x-death` counts) after which a dead-lettered message is dropped. */
const MAX_DEAD_LETTER_HOPS = 1000;

const OVERFLOWS: readonly Overflow[] = ["drop-head", "reject-publish", "reject-publish-dlx"];

function invalidArg(arg: string, queue: string, vhost: string, problem: string): AmqpError {
  return preconditionFailed(`invalid arg '${arg}' for queue '${queue}' in vhost '${vhost}': ${problem}`);
}

/** `x-max-length`, `x-max-length-bytes`, `x-overflow`, checked as RabbitMQ checks them. */
function parseLimits(args: FieldTable, queue: string, vhost: string): QueueLimits {
  const maxLength = parseInteger(args, "x-max-length", queue, vhost, 0);
  const maxLengthBytes = parseInteger(args, "x-max-length-bytes", queue, vhost, 0);
  const o = args["x-overflow"];
  let overflow: Overflow = "drop-head";
  if (o !== undefined) {
    if (typeof o !== "string") {
      throw invalidArg("x-overflow", queue, vhost, `{unacceptable_type,${fieldTypeName(o)}}`);
    }
    if (!OVERFLOWS.includes(o as Overflow)) {
      throw invalidArg("x-overflow", queue, vhost, "invalid_overflow");
    }
    overflow = o as Overflow;
  }
  if (maxLength === Infinity && maxLengthBytes === Infinity) {
    return overflow === "drop-head" ? UNLIMITED : { ...UNLIMITED, overflow };
  }
  return { maxLength, maxLengthBytes, overflow };
}

/**
 * A non-negative integer argument (a count, or a duration in ms: `x-message-ttl` from 0,
 * `x-expires` from 1), checked in RabbitMQ's words; Infinity when absent.
 */
function parseInteger(args: FieldTable, arg: string, queue: string, vhost: string, min: number): number {
  const v = args[arg];
  if (v === undefined) return Infinity;
  let n = NaN;
  if (typeof v === "number") n = v;
  else if (v instanceof TypedField && v.type !== "D" && v.type !== "f") n = v.valueOf();
  if (!Number.isInteger(n)) {
    throw invalidArg(arg, queue, vhost, `"expected integer, got ${fieldTypeName(v)}"`);
  }
  if (n < 0) throw invalidArg(arg, queue, vhost, `{value_negative,${n}}`);
  if (n < min) throw invalidArg(arg, queue, vhost, `{value_zero,${n}}`);
  return n;
}

/** `x-max-priority`: an integer up to 255 (0 means no priorities, as RabbitMQ accepts it). */
function parseMaxPriority(args: FieldTable, queue: string, vhost: string): number {
  const n = parseInteger(args, "x-max-priority", queue, vhost, 0);
  if (n === Infinity) return 0;
  if (n > 255) throw invalidArg("x-max-priority", queue, vhost, `{max_value_exceeded,${n}}`);
  return n;
}

/** `x-dead-letter-exchange` and `x-dead-letter-routing-key` must be strings. */
function checkDeadLetterArgs(args: FieldTable, queue: string, vhost: string): void {
  // Both texts are RabbitMQ's own, which words the two arguments differently.
  const dlx = args["x-dead-letter-exchange"];
  if (dlx !== undefined && typeof dlx !== "string") {
    throw preconditionFailed(
      `invalid type '${
        fieldTypeName(dlx)
      }' for arg 'x-dead-letter-exchange' in queue '${queue}' in vhost '${vhost}'`,
    );
  }
  const key = args["x-dead-letter-routing-key"];
  if (key !== undefined && typeof key !== "string") {
    throw invalidArg("x-dead-letter-routing-key", queue, vhost, `{unacceptable_type,${fieldTypeName(key)}}`);
  }
  if (key !== undefined && dlx === undefined) {
    throw invalidArg("x-dead-letter-routing-key", queue, vhost, "routing_key_but_no_dlx_defined");
  }
}
