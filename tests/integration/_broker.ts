// Starts a broker for one integration test.
//
// Mode, chosen by environment variables:
//   (default)                  Warren in-process, via createBroker() from server/mod.ts
//   WARREN_TEST_RUNTIME=deno   Warren as a child process: `deno run -A server/main.ts ...`
//   WARREN_TEST_RUNTIME=bun    Warren as a child process: `bun run server/main.ts ...`
//   WARREN_TEST_URL=amqp://... an already running broker (e.g. RabbitMQ, for reference runs); it is
//                              never started or stopped, and broker options cannot be applied to it.
// A spawned broker gets `--port 0 --host 127.0.0.1 --log-level error --http-port 0`, a private temporary --data-dir,
// --heartbeat / --frame-max when asked, and handshakeTimeout through a temporary --config JSON file.

import type { Broker } from "../../core/mod.ts";
import { repoRoot, spawnWarren, type WarrenProcess } from "./_process.ts";

export interface BrokerOptions {
  /** Heartbeat the server proposes in connection.tune, in seconds. */
  heartbeat?: number;
  /** frame-max the server proposes in connection.tune, in bytes. */
  frameMax?: number;
  /** How long the server waits for the handshake to complete, in ms. */
  handshakeTimeout?: number;
}

export interface TestBroker {
  /** amqp://guest:guest@host:port/ */
  url: string;
  /** The kernel, when Warren runs in this process (to create users, vhosts, permissions). */
  kernel?: Broker;
  host: string;
  port: number;
  /** The management HTTP API's port, when the broker is a child process started here. */
  httpPort?: number;
  /** Stops the broker (a no-op for an external one). */
  stop(): Promise<void>;
}

export type Mode = "inprocess" | "deno" | "bun" | "external";

const EXTERNAL_URL = Deno.env.get("WARREN_TEST_URL");
const RUNTIME = Deno.env.get("WARREN_TEST_RUNTIME");

export const mode: Mode = EXTERNAL_URL
  ? "external"
  : RUNTIME === "bun"
  ? "bun"
  : RUNTIME === "deno"
  ? "deno"
  : "inprocess";

if (RUNTIME && RUNTIME !== "bun" && RUNTIME !== "deno") {
  throw new Error(`WARREN_TEST_RUNTIME must be "bun" or "deno", got ${JSON.stringify(RUNTIME)}`);
}

/** True when the tests talk to an already running broker (WARREN_TEST_URL). */
export const isExternal: boolean = mode === "external";

/**
 * Why a test needing these broker options cannot run in the current mode, or undefined if it can.
 * An external broker takes no options.
 */
export function ignoreReason(opts: BrokerOptions = {}): string | undefined {
  const set = (Object.keys(opts) as (keyof BrokerOptions)[]).filter((k) => opts[k] !== undefined);
  if (set.length === 0) return undefined;
  if (mode === "external") return `needs broker option ${set.join(", ")}; WARREN_TEST_URL broker is not ours`;
  return undefined;
}

export interface TestCtx {
  broker: TestBroker;
  url: string;
  /** Registers cleanup (closing a connection, ...); run in reverse order before the broker stops. */
  defer(fn: () => unknown): void;
  t: Deno.TestContext;
}

/**
 * Declares a Deno test that gets its own broker (started with `broker` options) and runs every
 * deferred cleanup, then stops the broker, whatever the outcome. Tests whose options cannot be
 * applied in the current mode are ignored, with the reason in their name.
 */
export function brokerTest(
  name: string,
  fn: (ctx: TestCtx) => Promise<void>,
  options: {
    broker?: BrokerOptions;
    /** Whole-test deadline in ms (a broker that never answers an RPC must not hang the run). */
    timeout?: number;
    sanitizeOps?: boolean;
    sanitizeResources?: boolean;
  } = {},
): void {
  const why = ignoreReason(options.broker);
  Deno.test({
    name: why ? `${name} (ignored: ${why})` : name,
    ignore: why !== undefined,
    sanitizeOps: options.sanitizeOps ?? true,
    sanitizeResources: options.sanitizeResources ?? true,
    async fn(t) {
      const broker = await startBroker(options.broker);
      const cleanups: (() => unknown)[] = [];
      let failure: { error: unknown } | undefined;
      const timeout = options.timeout ?? DEFAULT_TEST_TIMEOUT_MS;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const run = fn({ broker, url: broker.url, defer: (f) => cleanups.push(f), t });
      try {
        await Promise.race([
          run,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`test did not finish within ${timeout} ms (a reply never came?)`)),
              timeout,
            );
          }),
        ]);
      } catch (error) {
        failure = { error };
      } finally {
        clearTimeout(timer);
      }
      // On timeout `run` is still pending; closing the connections below makes it settle.
      const settled = run.catch(() => {});
      const errors: unknown[] = [];
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch (e) {
          errors.push(e);
        }
      }
      try {
        await broker.stop();
      } catch (e) {
        errors.push(e);
      }
      if (failure) await waitForSettle(settled, 2000);
      // The test's own failure is the interesting one; cleanup errors only if the test passed.
      if (failure) throw failure.error;
      if (errors.length === 1) throw errors[0];
      if (errors.length) throw new AggregateError(errors, "cleanup failed");
    },
  });
}

const DEFAULT_TEST_TIMEOUT_MS = 30_000;

async function waitForSettle(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** Repository root (tests/integration/ is two levels below it). */
export { repoRoot };

const STARTUP_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

export async function startBroker(opts: BrokerOptions = {}): Promise<TestBroker> {
  switch (mode) {
    case "external":
      return externalBroker(EXTERNAL_URL!, opts);
    case "inprocess":
      return await inProcessBroker(opts);
    case "deno":
    case "bun":
      return await spawnedBroker(mode, opts);
  }
}

/** Runs `fn` with a fresh broker and always stops it afterwards. */
export async function withBroker<T>(
  fn: (b: TestBroker) => Promise<T>,
  opts: BrokerOptions = {},
): Promise<T> {
  const b = await startBroker(opts);
  try {
    return await fn(b);
  } finally {
    await b.stop();
  }
}

function externalBroker(url: string, opts: BrokerOptions): TestBroker {
  if (opts.heartbeat !== undefined || opts.frameMax !== undefined || opts.handshakeTimeout !== undefined) {
    throw new Error(
      "broker options cannot be applied to an external broker (WARREN_TEST_URL); the test should be ignored",
    );
  }
  const u = new URL(url);
  return {
    url,
    host: u.hostname,
    port: u.port ? Number(u.port) : 5672,
    stop: () => Promise.resolve(),
  };
}

interface WarrenHandle {
  broker: Broker;
  port: number;
  host: string;
  close(): Promise<void>;
}

async function inProcessBroker(opts: BrokerOptions): Promise<TestBroker> {
  // Imported lazily so that this file (and every test file) loads in the other modes, and while the
  // server is still being written.
  const modUrl = new URL("../../server/mod.ts", import.meta.url).href;
  const mod = await import(modUrl) as {
    createBroker(o: Record<string, unknown>): Promise<WarrenHandle>;
  };
  const b = await mod.createBroker({
    port: 0,
    host: "127.0.0.1",
    logLevel: "error",
    ...(opts.heartbeat !== undefined ? { heartbeat: opts.heartbeat } : {}),
    ...(opts.frameMax !== undefined ? { frameMax: opts.frameMax } : {}),
    ...(opts.handshakeTimeout !== undefined ? { handshakeTimeout: opts.handshakeTimeout } : {}),
  });
  let stopped = false;
  return {
    url: `amqp://guest:guest@${b.host}:${b.port}/`,
    kernel: b.broker,
    host: b.host,
    port: b.port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await b.close();
    },
  };
}

async function spawnedBroker(runtime: "deno" | "bun", opts: BrokerOptions): Promise<TestBroker> {
  const args: string[] = [];
  if (opts.heartbeat !== undefined) args.push("--heartbeat", String(opts.heartbeat));
  if (opts.frameMax !== undefined) args.push("--frame-max", String(opts.frameMax));
  // A private data directory, so that a spawned broker never writes ./data into the repository.
  const tmp = await Deno.makeTempDir({ prefix: "warren-test-" });
  if (opts.handshakeTimeout !== undefined) {
    // handshakeTimeout has no command-line flag; it is a config-file key.
    await Deno.writeTextFile(
      `${tmp}/config.json`,
      JSON.stringify({ handshakeTimeout: opts.handshakeTimeout }),
    );
    args.push("--config", `${tmp}/config.json`);
  }
  let proc: WarrenProcess;
  try {
    proc = await spawnWarren(`${tmp}/data`, {
      runtime,
      args,
      logLevel: Deno.env.get("WARREN_TEST_LOG_LEVEL") ?? "error",
      startupTimeout: STARTUP_TIMEOUT_MS,
    });
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
  let stopped = false;
  return {
    url: proc.url,
    host: "127.0.0.1",
    port: proc.port,
    httpPort: proc.httpPort,
    async stop() {
      if (stopped) return;
      stopped = true;
      const exitedOnTerm = await proc.stop(STOP_TIMEOUT_MS);
      // deno-lint-ignore no-console
      if (Deno.env.get("WARREN_TEST_LOG_LEVEL")) console.error(proc.stderr());
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      if (!exitedOnTerm) {
        throw new Error(
          `${runtime} broker did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (killed)\n--- stderr ---\n${proc.stderr()}`,
        );
      }
    },
  };
}

/**
 * Polls `pred` until it returns true (or a truthy promise), or throws after `timeout` ms.
 * Use this instead of bare sleeps whenever waiting for a condition.
 */
export async function waitFor(
  pred: () => boolean | Promise<boolean>,
  { timeout = 5000, interval = 10, message }: { timeout?: number; interval?: number; message?: string } = {},
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (true) {
    if (await pred()) return;
    if (Date.now() >= deadline) {
      throw new Error(`waitFor: condition not met within ${timeout} ms${message ? `: ${message}` : ""}`);
    }
    await delay(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Waits `ms` and asserts that `pred` stays false the whole time (checked every `interval` ms).
 * This is the bounded wait for "something must NOT happen".
 */
export async function assertStaysFalse(
  pred: () => boolean,
  ms: number,
  { interval = 10, message }: { interval?: number; message?: string } = {},
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pred()) throw new Error(`condition became true${message ? `: ${message}` : ""}`);
    await delay(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
  if (pred()) throw new Error(`condition became true${message ? `: ${message}` : ""}`);
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let counter = 0;

/** A name unique within this run and across runs (queues on an external broker may outlive a test). */
export function uniqueName(prefix = "test"): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}
