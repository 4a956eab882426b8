/**
 * Warren's server: starts a broker in-process, listening on TCP, on Deno or Bun.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createBroker } from "./mod.ts";
 * const running = await createBroker({ port: 0, host: "127.0.0.1", logLevel: "none" });
 * assert.ok(running.port > 0);
 * await running.close();
 * ```
 *
 * @module
 */

import { Broker, type BrokerConfig, type RouterPlugin } from "../core/mod.ts";
import { DEFAULT_PLUGINS } from "../plugins/mod.ts";
import { createLogger, type LogLevel } from "./log.ts";
import type { Listen, Listener } from "./transport/types.ts";
import { type HttpListener, startManagement } from "./http/mod.ts";
import { type FileStore, openDataDir, type SyncMode } from "./store/mod.ts";
import { type ResourceReport, type SizeLimit, startResourceMonitor } from "./resources.ts";

/** Options of {@link createBroker}. Every one is optional. */
export interface BrokerOptions {
  /** AMQP port; 0 picks a free one. @default 5672 */
  port?: number;
  /** Address to listen on. @default "0.0.0.0" */
  host?: string;
  /** Heartbeat offered to clients, seconds (0 disables). @default 60 */
  heartbeat?: number;
  /** Largest frame accepted, bytes. @default 131072 */
  frameMax?: number;
  /** Highest channel number. @default 2047 */
  channelMax?: number;
  /** Time allowed to complete the AMQP handshake, ms. @default 10000 */
  handshakeTimeout?: number;
  /** Largest message body, bytes. @default 134217728 */
  maxMessageSize?: number;
  /** Log level. @default "info" */
  logLevel?: LogLevel;
  /** Plugins registered in addition to the built-in ones. */
  plugins?: readonly RouterPlugin[];
  /**
   * Users created at start, besides guest; each gets full permissions (configure, write and read
   * `.*`) on the vhost "/". The password is hashed at once and never kept in clear.
   */
  users?: readonly { name: string; password: string; tags?: string[] }[];
  /**
   * Create the default user guest/guest (tag administrator, full permissions on "/", allowed
   * from loopback addresses only), as RabbitMQ does on a fresh install. False locks a fresh
   * install down to the `users` given. @default true
   */
  guest?: boolean;
  /** Force a runtime's transport (default: the one this code runs on). */
  runtime?: "deno" | "bun";
  /**
   * Port of the HTTP management API and `/metrics`; 0 picks a free one. Absent or null: no HTTP
   * (the command line passes `--http-port`, default 15672).
   */
  httpPort?: number | null;
  /**
   * Directory for durable state: definitions, persistent messages, paged-out messages. Without
   * one, everything lives in memory and is gone when the process stops.
   */
  dataDir?: string;
  /** `always`: confirm persistent messages after fsync (default); `none`: once written to the OS. */
  sync?: SyncMode;
  /**
   * Ready messages (and body bytes) each queue keeps in memory when there is a data directory;
   * the rest wait on disk. @default { messages: 8192, bytes: 16 MiB }
   */
  queueWindow?: { messages: number; bytes: number };
  /**
   * The broker's clock, ms since the epoch (TTLs, delays, expiry, consumer timeouts). Tests inject
   * one they can move forward. @default Date.now
   */
  clock?: () => number;
  /**
   * Memory high watermark: over it, publishing connections are blocked (connection.blocked).
   * A fraction of total RAM or a size in bytes. @default { fraction: 0.4 }
   */
  memoryHighWatermark?: SizeLimit;
  /** Free disk space below which publishers are blocked. @default { bytes: 50_000_000 } */
  diskFreeLimit?: SizeLimit;
}

/** A broker running in this process. */
export interface RunningBroker {
  readonly broker: Broker;
  /** The port bound (the real one when 0 was asked for). */
  readonly port: number;
  readonly host: string;
  /** The HTTP management API's port (the real one when 0 was asked for), or null without HTTP. */
  readonly httpPort: number | null;
  /** Memory and disk as last measured against their limits. */
  resources(): ResourceReport;
  /** Graceful stop: stop accepting, close connections with 320 CONNECTION_FORCED, flush. */
  close(): Promise<void>;
}

/** How often the kernel's clock advances (heartbeats, timeouts), ms. */
const TICK_INTERVAL = 100;
/** How long a graceful stop waits for clients to acknowledge connection.close, ms. */
const SHUTDOWN_GRACE = 1_000;

/** The runtime this code runs on. */
export function currentRuntime(): "deno" | "bun" {
  return "Bun" in globalThis ? "bun" : "deno";
}

function runtimeVersion(runtime: "deno" | "bun"): string {
  const g = globalThis as unknown as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  return runtime === "bun" ? `Bun ${g.Bun?.version}` : `Deno ${g.Deno?.version.deno}`;
}

/** Starts a broker listening on TCP. */
export async function createBroker(options: BrokerOptions = {}): Promise<RunningBroker> {
  const runtime = options.runtime ?? currentRuntime();
  const log = createLogger(options.logLevel ?? "info");
  const config: Partial<BrokerConfig> = {
    serverProperties: { platform: runtimeVersion(runtime) },
  };
  if (options.heartbeat !== undefined) config.heartbeat = options.heartbeat;
  if (options.frameMax !== undefined) config.frameMax = options.frameMax;
  if (options.channelMax !== undefined) config.channelMax = options.channelMax;
  if (options.handshakeTimeout !== undefined) config.handshakeTimeout = options.handshakeTimeout;
  if (options.maxMessageSize !== undefined) config.maxMessageSize = options.maxMessageSize;
  if (options.queueWindow !== undefined) config.queueWindow = options.queueWindow;
  const clock = options.clock ?? Date.now;
  const broker = new Broker({ config, log, now: clock(), clock });
  for (const p of DEFAULT_PLUGINS) broker.register(p);
  for (const p of options.plugins ?? []) broker.register(p);
  const everything = { configure: ".*", write: ".*", read: ".*" };
  if (options.guest ?? true) {
    broker.users.put("guest", "guest", { tags: ["administrator"], loopbackOnly: true });
    broker.permissions.set("guest", "/", everything);
  }
  for (const u of options.users ?? []) {
    broker.users.put(u.name, u.password, { tags: u.tags });
    broker.permissions.set(u.name, "/", everything);
  }
  broker.addVHost("/");
  let store: FileStore | null = null;
  if (options.dataDir !== undefined) {
    store = openDataDir(broker, options.dataDir, options.sync ?? "always");
    // Users given at start win over stored ones (a locked-down install stays locked down).
    for (const u of options.users ?? []) broker.users.put(u.name, u.password, { tags: u.tags });
  }

  const listen: Listen = runtime === "bun"
    ? (await import("./transport/bun.ts")).listenBun
    : (await import("./transport/deno.ts")).listenDeno;
  const listener: Listener = await listen(broker, {
    host: options.host ?? "0.0.0.0",
    port: options.port ?? 5672,
  });
  let http: HttpListener | null = null;
  const monitored: { report?: () => ResourceReport } = {};
  if (options.httpPort !== undefined && options.httpPort !== null) {
    const where = {
      host: options.host ?? "0.0.0.0",
      port: options.httpPort,
      runtime,
      amqp: listener,
      log,
      // The monitor starts below; until then /api/nodes shows no measurements.
      resources: () => monitored.report?.(),
    };
    http = await startManagement(broker, where).catch((err) => {
      listener.close();
      listener.closeAll();
      throw new Error(`Cannot listen for HTTP on ${where.host}:${where.port}: ${(err as Error).message}`);
    });
  }
  const timer = setInterval(() => broker.tick(clock()), TICK_INTERVAL);
  const monitor = startResourceMonitor(broker, {
    memoryHighWatermark: options.memoryHighWatermark,
    diskFreeLimit: options.diskFreeLimit,
    dataDir: options.dataDir,
  });
  monitored.report = monitor.report;
  log.info("listening", { amqp: `${listener.host}:${listener.port}`, runtime: runtimeVersion(runtime) });

  let closed: Promise<void> | null = null;
  return {
    broker,
    port: listener.port,
    host: listener.host,
    httpPort: http?.port ?? null,
    resources: monitor.report,
    close() {
      return closed ??= (async () => {
        listener.close();
        const httpClosed = http?.close();
        broker.shutdown();
        const deadline = Date.now() + SHUTDOWN_GRACE;
        while (broker.connections.size > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 10));
          broker.tick(clock());
        }
        listener.closeAll();
        clearInterval(timer);
        monitor.stop();
        await httpClosed;
        store?.close();
        // Let the transports' read loops observe the closed sockets before we return.
        await new Promise((r) => setTimeout(r, 0));
        log.info("stopped");
      })();
    },
  };
}
