/**
 * Broker: the root of the kernel's state.
 *
 * Owns the configuration that connections negotiate with, the plugin registry, vhosts, users,
 * the set of live connections, and coarse time: the server calls `tick(now)` a few times a
 * second and the kernel reads `now` instead of the clock (heartbeats, handshake timeouts).
 * It touches no socket, file or timer: `connect()` takes a Transport from the server.
 *
 * @module
 */

import { Connection } from "../protocol/connection.ts";
import type { Message } from "./message.ts";
import type { Transport } from "../transport.ts";
import type { ExchangeTypePlugin, QueueStagePlugin, RouterPlugin, StagePlugin } from "./router.ts";
import { PermissionStore } from "./permissions.ts";
import { UserStore } from "./users.ts";
import { ChurnStats, MessageStats } from "./stats.ts";
import { DEFAULT_WINDOW, type QueueWindow } from "./queue.ts";
import type { MessageStore } from "./store.ts";
import { VHost } from "./vhost.ts";
import {
  CORE_POLICY_KEYS,
  type Policy,
  type PolicyInput,
  type PolicyKey,
  validatePolicy,
} from "./policies.ts";

/** Log sink injected by the server. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A resource whose alarm blocks publishers. */
export type ResourceAlarm = "memory" | "disk";

/** A logger that drops everything. */
export const SILENT_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Kernel settings. Every field has RabbitMQ's default. */
export interface BrokerConfig {
  /** Largest frame we accept and offer in connection.tune. @default 131072 */
  frameMax: number;
  /** Highest channel number. @default 2047 */
  channelMax: number;
  /** Heartbeat interval offered in connection.tune, in seconds; 0 disables. @default 60 */
  heartbeat: number;
  /** A socket that has not completed the handshake by then is closed, in ms. @default 10000 */
  handshakeTimeout: number;
  /** Largest message body accepted, in bytes. @default 134217728 (128 MiB, RabbitMQ's default) */
  maxMessageSize: number;
  /** Extra `connection.start` server properties (product, version, platform). */
  serverProperties: Record<string, string>;
  /**
   * Ready messages above which a queue with consumers counts as contended: publishes into it
   * are budgeted per turn of the event loop (see `publishBudget`). @default 1000
   */
  flowBacklog: number;
  /**
   * Publishes into contended queues one connection may make per turn of the event loop.
   * Comparable to a consumer's prefetch window, so publishing and delivering stay in step when
   * the broker's CPU is the bottleneck. @default 100
   */
  publishBudget: number;
  /** Ready messages (and body bytes) each queue keeps in memory when a store is attached. */
  queueWindow: QueueWindow;
}

/** Defaults, as RabbitMQ ships them. */
export const DEFAULT_CONFIG: BrokerConfig = {
  frameMax: 131072,
  channelMax: 2047,
  heartbeat: 60,
  handshakeTimeout: 10_000,
  maxMessageSize: 128 * 1024 * 1024,
  serverProperties: {},
  flowBacklog: 1000,
  publishBudget: 100,
  queueWindow: DEFAULT_WINDOW,
};

/** The kernel. */
export class Broker {
  readonly config: BrokerConfig;
  readonly log: Logger;
  readonly users = new UserStore();
  /** Per-user per-vhost configure / write / read patterns, checked by channels. */
  readonly permissions = new PermissionStore();
  readonly vhosts = new Map<string, VHost>();
  readonly connections = new Set<Connection>();
  /** Message counters (management API, metrics). */
  readonly stats = new MessageStats();
  /** Connections, channels and queues created and closed (the overview's `churn_rates`). */
  readonly churn = new ChurnStats();
  /**
   * Direct reply-to: the channels consuming from `amq.rabbitmq.reply-to`, by the token their
   * requests carry in `reply-to` (`amq.rabbitmq.reply-to.<token>`). A reply is handed straight to
   * the channel, without a queue.
   */
  readonly replyTargets = new Map<string, { deliverReply(message: Message): boolean }>();
  readonly #exchangeTypes = new Map<string, ExchangeTypePlugin>();
  readonly #stagePlugins: StagePlugin[] = [];
  readonly #queuePlugins: QueueStagePlugin[] = [];
  /** Policy keys understood: the kernel's, then those plugins declare. */
  readonly #policyKeys = new Map<string, PolicyKey>(CORE_POLICY_KEYS.map((k) => [k.name, k]));
  /** Coarse time in ms, advanced by `tick()`. */
  now: number;
  /** Resource alarms in force (set by the server's monitor): publishing connections are blocked. */
  readonly alarms = new Set<ResourceAlarm>();
  /**
   * The message store (set by the server before vhosts are restored); null keeps every message
   * in memory only, as in-process tests do.
   */
  store: MessageStore | null = null;

  /**
   * @param options partial config, a logger, and the start time (ms)
   */
  constructor(
    options: { config?: Partial<BrokerConfig>; log?: Logger; now?: number; clock?: () => number } = {},
  ) {
    this.config = { ...DEFAULT_CONFIG, ...options.config };
    this.log = options.log ?? SILENT_LOGGER;
    this.now = options.now ?? 0;
    this.clock = options.clock ?? (() => this.now);
    this.users.onChange((change) => {
      if (change.kind === "delete") {
        // As RabbitMQ: a deleted user's connections are closed and its permissions go.
        this.permissions.clearUser(change.name);
        for (const c of this.connections) {
          if (c.user?.name === change.name) c.forceClose(`user '${change.name}' is deleted`);
        }
      }
      this.store?.definitionsChanged(); // users and permissions are part of the stored definitions
    });
    this.permissions.onChange(() => this.store?.definitionsChanged());
  }

  /**
   * Exact time in ms, from the server, for the few stamps that must not be early by a tick
   * (a delayed message's due time). Everything else reads the coarse `now`.
   */
  readonly clock: () => number;

  /** Registers a plugin; exchange types become declarable in vhosts created afterwards. */
  register(plugin: RouterPlugin): void {
    for (const k of plugin.policyKeys ?? []) {
      if (this.#policyKeys.has(k.name)) {
        throw new TypeError(`Cannot register plugin "${plugin.name}": policy key "${k.name}" is taken`);
      }
    }
    for (const k of plugin.policyKeys ?? []) this.#policyKeys.set(k.name, k);
    if (plugin.stage === "exchange") {
      if (this.#exchangeTypes.has(plugin.name)) {
        throw new TypeError(`Cannot register plugin "${plugin.name}": an exchange type of that name exists`);
      }
      this.#exchangeTypes.set(plugin.name, plugin);
      for (const v of this.vhosts.values()) v.pluginRegistered(plugin);
    } else if (plugin.stage === "queue") {
      this.#queuePlugins.push(plugin);
    } else {
      this.#stagePlugins.push(plugin);
    }
  }

  /** The exchange-type plugin of that name. */
  exchangeType(name: string): ExchangeTypePlugin | undefined {
    return this.#exchangeTypes.get(name);
  }

  /** Plugins of the `dead-letter` stage. */
  deadLetterPlugins(): readonly StagePlugin[] {
    return this.#stagePlugins.filter((p) => p.stage === "dead-letter");
  }

  /** Plugins of the `queue` stage. */
  queuePlugins(): readonly QueueStagePlugin[] {
    return this.#queuePlugins;
  }

  /** Plugins of the `unroutable` stage. */
  unroutablePlugins(): readonly StagePlugin[] {
    return this.#stagePlugins.filter((p) => p.stage === "unroutable");
  }

  /** Registered plugins, for logs and the management API. */
  plugins(): RouterPlugin[] {
    return [...this.#exchangeTypes.values(), ...this.#stagePlugins, ...this.#queuePlugins];
  }

  /** Policy keys understood: the kernel's and the registered plugins'. */
  policyKeys(): ReadonlyMap<string, PolicyKey> {
    return this.#policyKeys;
  }

  /**
   * Sets a policy (added, or replaced if one of that name exists) after validating it as
   * RabbitMQ does, and applies it at once to every matching queue and exchange of the vhost.
   *
   * @param vhost an existing vhost
   * @param name the policy's name
   * @param input pattern, definition, priority, apply-to
   * @returns true if the policy is new
   * @throws {PolicyError} with RabbitMQ's validation text; RangeError for a missing vhost
   */
  setPolicy(vhost: string, name: string, input: PolicyInput): boolean {
    const v = this.vhosts.get(vhost);
    if (!v) throw new RangeError(`Cannot set policy "${name}": no vhost "${vhost}"`);
    const policy = validatePolicy(vhost, name, input, this.#policyKeys);
    const created = !v.policies.has(name);
    v.putPolicy(policy);
    this.store?.definitionsChanged(); // policies are durable definitions
    return created;
  }

  /** Clears a policy: its objects fall back to the next matching policy, or none. False if absent. */
  clearPolicy(vhost: string, name: string): boolean {
    const cleared = this.vhosts.get(vhost)?.deletePolicy(name) ?? false;
    if (cleared) this.store?.definitionsChanged();
    return cleared;
  }

  /** Policies of one vhost, or of every vhost, by vhost then name. */
  policies(vhost?: string): Policy[] {
    const out: Policy[] = [];
    for (const v of this.vhosts.values()) {
      if (vhost === undefined || v.name === vhost) out.push(...v.policies.values());
    }
    return out.sort((a, b) =>
      a.vhost < b.vhost ? -1 : a.vhost > b.vhost ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
  }

  /** Creates a vhost with its built-in exchanges (idempotent). */
  addVHost(name: string): VHost {
    let v = this.vhosts.get(name);
    if (!v) {
      v = new VHost(name, this, (plugin, err) => {
        this.log.error("plugin failed", { plugin, error: err instanceof Error ? err.stack : String(err) });
      }, {
        now: () => this.now,
        clock: this.clock,
        log: this.log,
        store: () => this.store,
        definitionsChanged: () => this.store?.definitionsChanged(),
        window: this.config.queueWindow,
        churn: this.churn,
      });
      this.vhosts.set(name, v);
      this.store?.definitionsChanged();
    }
    return v;
  }

  /**
   * Deletes a vhost as RabbitMQ does: its connections are closed with 320 CONNECTION_FORCED
   * ("vhost 'x' is deleted"), then its queues (with their messages) and exchanges go, and the
   * permissions on it.
   *
   * @returns false if there was no such vhost
   */
  deleteVHost(name: string): boolean {
    const v = this.vhosts.get(name);
    if (!v) return false;
    for (const c of this.connections) {
      if (c.vhost === v) c.forceClose(`vhost '${name}' is deleted`);
    }
    this.vhosts.delete(name);
    for (const q of [...v.queues.values()]) v.removeQueue(q);
    v.exchanges.clear();
    this.permissions.clearVHost(name);
    this.store?.definitionsChanged();
    return true;
  }

  /** Accepts a new client socket. The server feeds the returned Connection bytes and events. */
  connect(transport: Transport): Connection {
    const c = new Connection(this, transport);
    this.connections.add(c);
    return c;
  }

  /** Advances coarse time and runs timers (heartbeats, handshake and close timeouts). */
  tick(now: number): void {
    this.now = now;
    for (const c of this.connections) c.tick(now);
    for (const v of this.vhosts.values()) v.tick(now);
  }

  /**
   * Raises or clears a resource alarm. While any is raised, connections that publish are
   * blocked (now, or at their next publish); when the last clears, they are unblocked.
   */
  setAlarm(resource: ResourceAlarm, raised: boolean): void {
    if (this.alarms.has(resource) === raised) return;
    const before = this.alarms.size;
    if (raised) this.alarms.add(resource);
    else this.alarms.delete(resource);
    this.log.warn(raised ? "resource alarm raised: publishers blocked" : "resource alarm cleared", {
      resource,
    });
    if (before === 0 && raised) {
      const reason = this.alarmReason();
      for (const c of this.connections) if (c.hasPublished) c.block(reason);
    } else if (this.alarms.size === 0) {
      for (const c of this.connections) c.unblock();
    }
  }

  /** The reason sent in connection.blocked, in RabbitMQ's words. */
  alarmReason(): string {
    return this.alarms.has("memory") ? "low on memory" : "low on disk";
  }

  /** Closes every connection with 320 CONNECTION_FORCED (graceful shutdown). */
  shutdown(reason = "broker forced connection closure with reason 'shutdown'"): void {
    for (const c of this.connections) c.forceClose(reason);
  }
}
