/**
 * amqp_bench.ts — throughput benchmark for any AMQP 0-9-1 broker (Warren, RabbitMQ, ...).
 *
 *   deno task bench -- [--url amqp://guest:guest@127.0.0.1:5672/] [--seconds 5] [--warmup 1]
 *                      [--sizes 16,1024] [--scenarios publish,pubsub] [--json] [--pid BROKER_PID]
 *
 * Scenarios (each run once per body size, with a fresh publisher connection and a fresh
 * consumer/control connection, on a fresh non-durable auto-delete queue reached through the
 * default exchange; transient messages without properties):
 *
 *   publish   1 publisher, no consumer. Headline msg/s = growth of the queue depth during the
 *             measured window, sampled by passive queue.declare on the *other* connection
 *             (i.e. what the broker actually enqueued). The client-side write rate is reported
 *             too ("pub msg/s"); it can be higher because the kernel buffers several MB between
 *             client and broker. After the window: stop, drain (one round trip on the publishing
 *             channel), purge, delete.
 *   pubsub    1 publisher + 1 consumer (separate connections), manual acks, prefetch 100
 *             (basic.ack multiple=true every --ack-every deliveries). Headline msg/s = messages
 *             delivered to the consumer per second in the window (body sizes are checked). The
 *             publisher is throttled: it pauses while published - consumed >= --max-outstanding
 *             (20,000) and resumes below 90 % of that, so the queue stays bounded.
 *
 * The client is @cloudamqp/amqp-client (TCP_NODELAY on, heartbeats off); it does the handshake,
 * channels, declares, consuming and acks. The publisher runs in its own Worker
 * (bench/_publisher_worker.ts; --threads 1 keeps it on the main event loop) and shares its
 * counters with the consumer through a SharedArrayBuffer. Publishing is never awaited message by
 * message. By default (--publish-mode raw) every message is the same bytes, so --batch
 * pre-encoded basic.publish frames form one buffer written with one socket.write(), as
 * amqpbench's Go client does with its frame templates; --publish-mode lib calls the library's
 * basicPublish() per message instead, corked into one write per batch (about 0.65 M msg/s at
 * 80 % of a core on the 2-core dev machine, vs. about 0.9 M msg/s at 8 % for raw). Either way
 * only the last write of a batch is awaited (socket write callback): back-pressure. Client CPU%
 * (all threads) is reported so that a saturated client shows.
 *
 * Every loop stops at the end of its window, after --max-messages, on a connection error, or on
 * a stall; every broker round trip has a timeout, and a watchdog ends the process if the whole
 * run overruns its budget.
 *
 * Output: a table on stdout (progress on stderr), or with --json one JSON object per line per
 * result. Exit status 0 if every variant succeeded, 1 if any failed, 2 on bad usage.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import {
  type AMQPMessage,
  closeConn,
  type Conn,
  CONSUMED,
  errMsg,
  LOOP_DONE,
  newCounters,
  openConn,
  PUBLISHED,
  publishLoop,
  type PublishParams,
  redactUrl,
  sleep,
  STOP,
  THROTTLED_MS,
  withTimeout,
} from "./_amqp_common.ts";

// ---------------------------------------------------------------------------------------------
// output helpers (stdout: results; stderr: progress)

const enc = new TextEncoder();
function out(line: string): void {
  Deno.stdout.writeSync(enc.encode(line + "\n"));
}
function err(line: string): void {
  Deno.stderr.writeSync(enc.encode(line + "\n"));
}
function log(line: string): void {
  const t = new Date().toISOString().slice(11, 19);
  err(`[amqp_bench ${t}] ${line}`);
}

// ---------------------------------------------------------------------------------------------
// CPU sampling. The client's own CPU time comes from process.cpuUsage(). The broker's (--pid)
// and the host's come from /proc, which Deno only lets a program read with --allow-all
// (`deno run -A bench/amqp_bench.ts ...`); without it those columns stay empty.

const CLK_TCK = 100; // USER_HZ on every mainstream Linux
let procWarned = false;

function readProc(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (!procWarned) {
      procWarned = true;
      log(`note: cannot read ${path} (${errMsg(e).split(",")[0]}); broker/host CPU% not sampled`);
    }
    return undefined;
  }
}

/** CPU seconds (user+system) of a process, from /proc/PID/stat. */
function procCpuSecs(pid: number): number | undefined {
  const s = readProc(`/proc/${pid}/stat`);
  if (s === undefined) return undefined;
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  // after "comm)": state ppid ... utime stime are fields 14 and 15 of stat, i.e. indexes 11, 12 here
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Busy CPU seconds summed over all CPUs, from /proc/stat. */
function hostBusySecs(): number | undefined {
  const s = readProc("/proc/stat");
  if (s === undefined) return undefined;
  const v = s.split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return (total - (v[3] ?? 0) - (v[4] ?? 0)) / CLK_TCK;
}

interface CpuSample {
  t: number;
  self: number;
  broker?: number;
  host?: number;
}

function cpuSample(brokerPid?: number): CpuSample {
  const u = process.cpuUsage();
  return {
    t: performance.now(),
    self: (u.user + u.system) / 1e6,
    broker: brokerPid ? procCpuSecs(brokerPid) : undefined,
    host: brokerPid ? hostBusySecs() : undefined,
  };
}

/** % of one core between two samples (200 = two cores busy). */
function cpuPct(a: CpuSample, b: CpuSample): { client?: number; broker?: number; host?: number } {
  const secs = (b.t - a.t) / 1000;
  const pct = (x?: number, y?: number) =>
    x === undefined || y === undefined || secs <= 0 ? undefined : round1(((y - x) / secs) * 100);
  return { client: pct(a.self, b.self), broker: pct(a.broker, b.broker), host: pct(a.host, b.host) };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

// ---------------------------------------------------------------------------------------------
// options

const HELP = `amqp_bench: msg/s of an AMQP 0-9-1 broker (publish-only and publish+consume)

usage: deno task bench -- [options]

  --url URL              broker (default $AMQP_URL or amqp://guest:guest@127.0.0.1:5672/)
  --seconds N            measured window per variant, seconds (default 5)
  --warmup N             warm-up before the window, seconds (default 1)
  --sizes LIST           body sizes in bytes, comma separated (default 16,1024); alias --size
  --scenarios LIST       publish,pubsub (default both); alias --scenario
                         (also accepted: publish-only, pub, publish-consume, consume)
  --prefetch N           consumer prefetch (basic.qos) for pubsub (default 100)
  --ack-every N          ack with multiple=true every N deliveries (default prefetch/10)
  --max-outstanding N    pubsub publisher pauses at this many published-but-unconsumed (default 20000)
  --batch N              publishes per write batch (default 100)
  --threads 1|2          2 (default): the publisher runs in its own worker thread; 1: one event loop
  --publish-mode M       raw (default): write --batch pre-encoded basic.publish frames per socket write;
                         lib: call the library's basicPublish() per message (corked per batch)
  --max-messages N       cap on messages published per variant; reaching it ends the window early
                         (default: 50 M or 2^32 / (size + 256), whichever is smaller: ~4 GiB in the broker)
  --timeout N            seconds allowed for each broker round trip / connect (default 10)
  --pid PID              broker process to sample CPU% from /proc (needs deno run -A)
  --label TEXT           label stored in JSON lines (e.g. rabbitmq, warren-deno)
  --run N                run number stored in JSON lines
  --json                 print one JSON object per result line instead of the table
  -h, --help             this text
`;

interface Options {
  url: string;
  seconds: number;
  warmup: number;
  sizes: number[];
  scenarios: Scenario[];
  prefetch: number;
  ackEvery: number;
  maxOutstanding: number;
  batch: number;
  threads: number;
  publishMode: "raw" | "lib";
  maxMessages?: number;
  timeoutMs: number;
  pid?: number;
  label?: string;
  run?: number;
  json: boolean;
}

type Scenario = "publish" | "pubsub";
const SCENARIO_ALIASES: Record<string, Scenario> = {
  "publish": "publish",
  "publish-only": "publish",
  "pub": "publish",
  "pubsub": "pubsub",
  "publish-consume": "pubsub",
  "pub+consume": "pubsub",
  "consume": "pubsub",
};

class UsageError extends Error {}

function parseOptions(argv: string[]): Options | undefined {
  // `deno task bench -- --x` may hand us the separator itself
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      seconds: { type: "string" },
      warmup: { type: "string" },
      sizes: { type: "string" },
      size: { type: "string" },
      scenarios: { type: "string" },
      scenario: { type: "string" },
      prefetch: { type: "string" },
      "ack-every": { type: "string" },
      "max-outstanding": { type: "string" },
      batch: { type: "string" },
      threads: { type: "string" },
      "publish-mode": { type: "string" },
      "max-messages": { type: "string" },
      timeout: { type: "string" },
      pid: { type: "string" },
      label: { type: "string" },
      run: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    out(HELP);
    return undefined;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument(s): ${positionals.join(" ")}`);

  const num = (name: string, v: string | undefined, def: number, min: number, max: number) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new UsageError(`--${name} must be in [${min}, ${max}]`);
    }
    return n;
  };
  const list = (v: string) => v.split(/[,\s]+/).filter((x) => x !== "");

  const sizesStr = values.sizes ?? values.size ?? "16,1024";
  const sizes = list(sizesStr).map((s) => {
    const m = /^(\d+)(k|kib|kb)?$/i.exec(s);
    if (!m) throw new UsageError(`bad size: ${s}`);
    const n = Number(m[1]) * (m[2] ? 1024 : 1);
    if (n > 16 * 1024 * 1024) throw new UsageError(`size too large: ${s}`);
    return n;
  });
  const scenStr = values.scenarios ?? values.scenario ?? "publish,pubsub";
  const scenarios: Scenario[] = [];
  for (const s of list(scenStr)) {
    if (s === "all") {
      scenarios.push("publish", "pubsub");
      continue;
    }
    const sc = SCENARIO_ALIASES[s.toLowerCase()];
    if (!sc) throw new UsageError(`unknown scenario: ${s} (known: publish, pubsub)`);
    if (!scenarios.includes(sc)) scenarios.push(sc);
  }
  if (sizes.length === 0 || scenarios.length === 0) throw new UsageError("nothing to run");

  const prefetch = num("prefetch", values.prefetch, 100, 1, 65535);
  const publishMode = (v: string | undefined): "raw" | "lib" => {
    if (v === undefined || v === "raw" || v === "lib") return v ?? "raw";
    throw new UsageError("--publish-mode must be raw or lib");
  };
  const url = values.url ?? Deno.env.get("AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672/";
  try {
    const u = new URL(url);
    if (u.protocol !== "amqp:" && u.protocol !== "amqps:") throw new Error();
  } catch {
    throw new UsageError(`bad --url: ${url}`);
  }
  return {
    url,
    seconds: num("seconds", values.seconds, 5, 0.1, 3600),
    warmup: num("warmup", values.warmup, 1, 0, 600),
    sizes,
    scenarios,
    prefetch,
    ackEvery: num("ack-every", values["ack-every"], Math.max(1, Math.floor(prefetch / 10)), 1, prefetch),
    maxOutstanding: num("max-outstanding", values["max-outstanding"], 20000, 100, 10_000_000),
    batch: num("batch", values.batch, 100, 1, 10000),
    threads: num("threads", values.threads, 2, 1, 2),
    publishMode: publishMode(values["publish-mode"]),
    maxMessages: values["max-messages"] === undefined
      ? undefined
      : num("max-messages", values["max-messages"], 0, 1, 2 ** 31 - 1),
    timeoutMs: num("timeout", values.timeout, 10, 0.1, 600) * 1000,
    pid: values.pid !== undefined ? num("pid", values.pid, 0, 1, 1e9) : undefined,
    label: values.label,
    run: values.run !== undefined ? num("run", values.run, 0, 0, 1e9) : undefined,
    json: values.json ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// results

interface Result {
  tool: "warren-amqp-bench";
  label?: string;
  run?: number;
  url: string;
  scenario: Scenario;
  size: number;
  seconds: number;
  warmup: number;
  prefetch?: number;
  /** 2 = publisher in its own worker thread, 1 = everything on one event loop */
  threads: number;
  publish_mode: "raw" | "lib";
  valid: boolean;
  /** why the variant failed (valid = false) */
  error?: string;
  /** remarks on a valid result */
  note?: string;
  /** headline: publish = broker-side enqueue rate; pubsub = consumer delivery rate */
  msg_per_s: number;
  /** body bytes per second / 10^6 */
  mb_per_s: number;
  /** client-side publish rate in the window */
  publish_rate: number;
  consume_rate?: number;
  enqueue_rate?: number;
  queue_depth_start?: number;
  queue_depth_end?: number;
  queue_depth_after_drain?: number;
  /** pubsub: share of the window the publisher spent paused by the outstanding limit */
  throttled_pct?: number;
  drain_s?: number;
  published_total: number;
  consumed_total?: number;
  client_cpu_pct?: number;
  broker_cpu_pct?: number;
  host_cpu_pct?: number;
  ts: string;
}

// ---------------------------------------------------------------------------------------------
// AMQP plumbing

/** Errors from promises we deliberately do not await (publishes, acks) land here. */
let strayError: unknown;
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  strayError ??= e.reason;
});

async function queueDepth(c: Conn, queue: string, opts: Options): Promise<{ depth: number; t: number }> {
  const t0 = performance.now();
  const ok = await withTimeout(
    c.ch.queueDeclare(queue, { passive: true }),
    opts.timeoutMs,
    "queue.declare passive",
  );
  const t1 = performance.now();
  return { depth: ok.messageCount, t: (t0 + t1) / 2 };
}

/** The publishing side, in this thread or in a worker. */
interface Publisher {
  /** why publishing failed, if it did */
  error(): string | undefined;
  /** stop publishing, then one round trip on the publishing channel; the queue depth it reports */
  stopAndDrain(): Promise<{ drainS: number; depth: number }>;
  /** close the connection (and the worker); idempotent, bounded */
  close(): Promise<void>;
}

/** Never-unhandled deferred promise. */
function deferred<T>(): { p: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void, reject!: (e: unknown) => void;
  const p = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  p.catch(() => {});
  return { p, resolve, reject };
}

async function startInProcessPublisher(
  opts: Options,
  params: PublishParams,
  counters: Int32Array,
  name: string,
): Promise<Publisher> {
  const pub = await openConn(opts.url, name, opts.timeoutMs);
  const stop = deferred<void>();
  const loop = publishLoop(pub, params, counters, stop.p, () => strayError);
  loop.catch(() => {});
  const halt = () => {
    Atomics.store(counters, STOP, 1);
    stop.resolve();
  };
  return {
    error: () => (pub.error ? errMsg(pub.error) : strayError ? errMsg(strayError) : undefined),
    async stopAndDrain() {
      halt();
      await withTimeout(loop, opts.timeoutMs, "publisher loop stop");
      const t0 = performance.now();
      const ok = await withTimeout(
        pub.ch.queueDeclare(params.queue, { passive: true }),
        Math.max(opts.timeoutMs, 60_000),
        "drain (queue.declare passive on the publishing channel)",
      );
      return { drainS: (performance.now() - t0) / 1000, depth: ok.messageCount };
    },
    async close() {
      halt();
      await withTimeout(loop, 2000, "publisher loop stop").catch(() => {});
      await closeConn(pub, opts.timeoutMs);
    },
  };
}

async function startWorkerPublisher(
  opts: Options,
  params: PublishParams,
  counters: Int32Array,
  name: string,
): Promise<Publisher> {
  const worker = new Worker(new URL("./_publisher_worker.ts", import.meta.url).href, { type: "module" });
  let error: string | undefined;
  const ready = deferred<void>();
  const stopped = deferred<{ drainS: number; depth: number }>();
  const closed = deferred<void>();
  const fail = (m: string) => {
    error ??= m;
    ready.reject(new Error(m));
    stopped.reject(new Error(m));
  };
  worker.onmessage = (e: MessageEvent) => {
    const m = e.data as { ev: string; message?: string; drainS?: number; depth?: number };
    if (m.ev === "ready") ready.resolve();
    else if (m.ev === "stopped") stopped.resolve({ drainS: m.drainS ?? 0, depth: m.depth ?? 0 });
    else if (m.ev === "error") fail(`publisher: ${m.message}`);
    else if (m.ev === "closed") {
      fail("publisher worker closed");
      closed.resolve();
    }
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    fail(`publisher worker: ${e.message}`);
    closed.resolve();
  };
  let terminated = false;
  const halt = () => {
    Atomics.store(counters, STOP, 1);
    if (!terminated) worker.postMessage({ cmd: "stop" });
  };
  const close = async () => {
    if (terminated) return;
    halt();
    await withTimeout(closed.p, 5000, "publisher worker exit").catch(() => {});
    terminated = true;
    worker.terminate();
  };
  worker.postMessage({ cmd: "start", url: opts.url, name, timeoutMs: opts.timeoutMs, params, counters });
  try {
    // the worker loads its module (already cached) and connects
    await withTimeout(ready.p, opts.timeoutMs + 10_000, "publisher worker start");
  } catch (e) {
    await close();
    throw e;
  }
  return {
    error: () => error,
    stopAndDrain() {
      halt();
      return withTimeout(stopped.p, Math.max(opts.timeoutMs, 60_000) + 5000, "publisher stop and drain");
    },
    close,
  };
}

// ---------------------------------------------------------------------------------------------
// one variant

async function waitWindow(ms: number, check: () => string | undefined): Promise<string | undefined> {
  const end = performance.now() + ms;
  for (;;) {
    const problem = check();
    if (problem) return problem;
    const left = end - performance.now();
    if (left <= 0) return undefined;
    await sleep(Math.min(100, left));
  }
}

async function runVariant(opts: Options, scenario: Scenario, size: number): Promise<Result> {
  const res: Result = {
    tool: "warren-amqp-bench",
    label: opts.label,
    run: opts.run,
    url: redactUrl(opts.url),
    scenario,
    size,
    seconds: opts.seconds,
    warmup: opts.warmup,
    prefetch: scenario === "pubsub" ? opts.prefetch : undefined,
    threads: opts.threads,
    publish_mode: opts.publishMode,
    valid: false,
    msg_per_s: 0,
    mb_per_s: 0,
    publish_rate: 0,
    published_total: 0,
    ts: new Date().toISOString(),
  };
  const addNote = (n: string) => (res.note = res.note ? `${res.note}; ${n}` : n);
  strayError = undefined;
  const tag = `${Deno.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
  const queue = `warren-bench.${scenario}.${size}.${tag}`;
  const counters = newCounters(opts.threads > 1);
  // count bound; by default also about 4 GiB of broker memory (body + ~256 bytes per message),
  // since a broker without flow control keeps whatever an unthrottled publisher sends
  const maxMessages = opts.maxMessages ?? Math.min(50_000_000, Math.floor(2 ** 32 / (size + 256)));
  const params: PublishParams = {
    queue,
    size,
    batch: opts.batch,
    mode: opts.publishMode,
    maxMessages,
    maxOutstanding: scenario === "pubsub" ? opts.maxOutstanding : 0,
  };
  let con: Conn | undefined;
  let pub: Publisher | undefined;
  let declared = false;
  let consumed = 0;
  let badBodies = 0;
  try {
    con = await openConn(opts.url, `amqp_bench-${scenario}-consumer`, opts.timeoutMs);
    await withTimeout(
      con.ch.queueDeclare(queue, { durable: false, autoDelete: true, exclusive: false }),
      opts.timeoutMs,
      "queue.declare",
    );
    declared = true;

    if (scenario === "pubsub") {
      const ch = con.ch;
      await withTimeout(ch.basicQos(opts.prefetch), opts.timeoutMs, "basic.qos");
      let unacked = 0;
      const ackEvery = opts.ackEvery;
      await withTimeout(
        ch.basicConsume(queue, { noAck: false }, (msg: AMQPMessage) => {
          Atomics.store(counters, CONSUMED, ++consumed);
          if (msg.bodySize !== size) badBodies++;
          if (++unacked >= ackEvery) {
            unacked = 0;
            ch.basicAck(msg.deliveryTag, true); // not awaited; a failure surfaces as strayError
          }
        }),
        opts.timeoutMs,
        "basic.consume",
      );
    }

    const pubName = `amqp_bench-${scenario}-publisher`;
    pub = opts.threads > 1
      ? await startWorkerPublisher(opts, params, counters, pubName)
      : await startInProcessPublisher(opts, params, counters, pubName);

    const CAPPED = "capped";
    const check = (): string | undefined => {
      const pe = pub?.error();
      if (pe) return pe;
      if (con?.error) return `consumer connection: ${errMsg(con.error)}`;
      if (strayError) return errMsg(strayError);
      if (badBodies > 0) return `${badBodies} deliveries with a body size other than ${size}`;
      if (Atomics.load(counters, LOOP_DONE)) {
        return Atomics.load(counters, PUBLISHED) >= maxMessages ? CAPPED : "publisher loop ended early";
      }
      return undefined;
    };

    let problem = await waitWindow(opts.warmup * 1000, check);
    if (problem === CAPPED) problem = `--max-messages (${maxMessages}) reached during the warm-up`;
    if (problem) throw new Error(problem);

    // ---- measured window
    const d0 = scenario === "publish" ? await queueDepth(con, queue, opts) : undefined;
    const c0 = cpuSample(opts.pid);
    const p0 = Atomics.load(counters, PUBLISHED), k0 = consumed, th0 = Atomics.load(counters, THROTTLED_MS);
    let lastConsumed = consumed, lastProgress = performance.now();
    problem = await waitWindow(opts.seconds * 1000, () => {
      const p = check();
      if (p) return p;
      if (scenario === "pubsub") {
        const now = performance.now();
        if (consumed !== lastConsumed) {
          lastConsumed = consumed;
          lastProgress = now;
        } else if (now - lastProgress > Math.max(5000, opts.timeoutMs)) {
          return `stalled: no delivery for ${Math.round((now - lastProgress) / 1000)} s`;
        }
      }
      return undefined;
    });
    const c1 = cpuSample(opts.pid);
    const p1 = Atomics.load(counters, PUBLISHED), k1 = consumed, th1 = Atomics.load(counters, THROTTLED_MS);
    const secs = (c1.t - c0.t) / 1000;
    if (problem === CAPPED) {
      problem = undefined;
      addNote(`window cut to ${secs.toFixed(1)} s: --max-messages (${maxMessages}) reached`);
    }
    if (problem) throw new Error(problem);
    const d1 = scenario === "publish" ? await queueDepth(con, queue, opts) : undefined;

    // ---- stop, drain
    const drained = await pub.stopAndDrain();
    res.drain_s = Math.round(drained.drainS * 100) / 100;
    const published = Atomics.load(counters, PUBLISHED);
    if (consumed > published) throw new Error(`consumed ${consumed} > published ${published}`);

    res.publish_rate = Math.round((p1 - p0) / secs);
    res.published_total = published;
    const cpu = cpuPct(c0, c1);
    res.client_cpu_pct = cpu.client;
    res.broker_cpu_pct = cpu.broker;
    res.host_cpu_pct = cpu.host;

    if (scenario === "publish") {
      res.queue_depth_start = d0!.depth;
      res.queue_depth_end = d1!.depth;
      res.enqueue_rate = Math.round((d1!.depth - d0!.depth) / ((d1!.t - d0!.t) / 1000));
      res.msg_per_s = res.enqueue_rate;
      if (drained.depth === 0 && published > 0) {
        // the broker does not report queue depth: fall back to the client-side rate
        addNote("broker reported message_count=0 after drain; msg/s is the client write rate");
        res.msg_per_s = res.publish_rate;
      } else if (drained.depth < published * 0.99 || drained.depth > published) {
        // (RabbitMQ may lag by a few hundred: its queue process trails the channel)
        addNote(`queue holds ${drained.depth} after drain, ${published} were published`);
      }
      res.queue_depth_after_drain = drained.depth;
      await withTimeout(con.ch.queuePurge(queue), Math.max(opts.timeoutMs, 30_000), "queue.purge");
    } else {
      res.consume_rate = Math.round((k1 - k0) / secs);
      res.consumed_total = consumed;
      res.msg_per_s = res.consume_rate;
      res.throttled_pct = round1(((th1 - th0) / (secs * 1000)) * 100);
      res.queue_depth_end = drained.depth;
    }
    res.mb_per_s = Math.round((res.msg_per_s * size) / 1e4) / 100;
    res.valid = true;
  } catch (e) {
    res.valid = false;
    res.error = errMsg(e);
  } finally {
    await pub?.close();
    if (declared && con && !con.error && !con.conn.closed) {
      try {
        await withTimeout(con.ch.queueDelete(queue), Math.max(opts.timeoutMs, 30_000), "queue.delete");
      } catch (e) {
        log(`warning: could not delete ${queue}: ${errMsg(e)}`);
      }
    }
    await closeConn(con, opts.timeoutMs);
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// output

function fmtInt(n: number | undefined): string {
  return n === undefined ? "-" : Math.round(n).toLocaleString("en-US");
}

function printTable(results: Result[], opts: Options): void {
  const head = ["scenario", "size", "msg/s", "MB/s", "pub msg/s", "client cpu%", "broker cpu%", "note"];
  const rows = results.map((r) => [
    r.scenario === "publish" ? "publish-only" : `pub+consume (ack, prefetch ${r.prefetch})`,
    r.size >= 1024 && r.size % 1024 === 0 ? `${r.size / 1024} KiB` : `${r.size} B`,
    r.valid ? fmtInt(r.msg_per_s) : "FAILED",
    r.valid ? r.mb_per_s.toFixed(2) : "-",
    r.valid ? fmtInt(r.publish_rate) : "-",
    r.client_cpu_pct === undefined ? "-" : r.client_cpu_pct.toFixed(0),
    r.broker_cpu_pct === undefined ? "-" : r.broker_cpu_pct.toFixed(0),
    r.error ?? [
      r.note,
      r.scenario === "pubsub" && (r.throttled_pct ?? 0) > 1 ? `publisher paused ${r.throttled_pct}%` : "",
    ].filter(Boolean).join("; "),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = [false, true, true, true, true, true, true, false];
  const line = (cells: string[]) =>
    cells.map((c, i) => (right[i] ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ").trimEnd();
  out("");
  out(
    `broker ${redactUrl(opts.url)}${opts.label ? ` (${opts.label})` : ""}: ${opts.seconds} s window, ` +
      `${opts.warmup} s warm-up per variant`,
  );
  out(line(head));
  out(line(w.map((n) => "-".repeat(n))));
  for (const r of rows) out(line(r));
  out("");
  out("publish-only msg/s = queue-depth growth seen by the broker; pub msg/s = what the client wrote.");
  out("pub+consume msg/s = deliveries acked per second by the consumer. MB/s counts body bytes (10^6).");
}

// ---------------------------------------------------------------------------------------------
// main

async function main(): Promise<number> {
  let opts: Options | undefined;
  try {
    opts = parseOptions(Deno.args);
  } catch (e) {
    err(`amqp_bench: ${errMsg(e)}\n`);
    err(HELP);
    return 2;
  }
  if (!opts) return 0;

  const variants: [Scenario, number][] = [];
  for (const s of opts.scenarios) for (const z of opts.sizes) variants.push([s, z]);

  // watchdog: the whole run must end within its budget, whatever happens
  const budgetS = variants.length * (opts.warmup + opts.seconds + 4 * opts.timeoutMs / 1000 + 90) + 30;
  const wd = setTimeout(() => {
    err(`amqp_bench: watchdog: run exceeded ${Math.round(budgetS)} s, exiting`);
    Deno.exit(3);
  }, budgetS * 1000);
  Deno.unrefTimer(wd);

  log(
    `broker ${redactUrl(opts.url)}; ${variants.length} variant(s) x (${opts.warmup} s warm-up + ` +
      `${opts.seconds} s)`,
  );
  const results: Result[] = [];
  for (const [s, z] of variants) {
    log(`${s} body=${z} ...`);
    const r = await runVariant(opts, s, z);
    results.push(r);
    if (r.valid) {
      log(
        `${s} body=${z} -> ${fmtInt(r.msg_per_s)} msg/s (client wrote ${fmtInt(r.publish_rate)} msg/s, ` +
          `client cpu ${r.client_cpu_pct ?? "?"}%${r.note ? `; ${r.note}` : ""})`,
      );
    } else {
      log(`${s} body=${z} -> FAILED: ${r.error}`);
    }
    if (opts.json) out(JSON.stringify(r));
    await sleep(300); // let the broker settle (queue deletion, GC) before the next variant
  }
  if (!opts.json) printTable(results, opts);
  return results.every((r) => r.valid) ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main());
}
