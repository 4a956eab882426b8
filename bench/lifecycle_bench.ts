/**
 * lifecycle_bench.ts — in-process costs of the message lifecycle, through the kernel's own
 * objects (Broker, VHost, Queue) with the built-in plugins, no sockets:
 *
 *   1. 1,000,000 delayed messages (x-delayed-message exchange, random delays over an hour):
 *      heap per pending message beyond its body, time to schedule, then release rate once due.
 *   2. TTL expiry of 1,000,000 messages whose per-message expirations are spread through a
 *      queue (random order): rate at which the expiry heap finds and drops them.
 *
 *   deno run -A --v8-flags=--expose-gc bench/lifecycle_bench.ts   (or: deno task bench:lifecycle)
 *
 * @module
 */

// deno-lint-ignore-file no-console
import { Broker, Message } from "../core/mod.ts";
import { DEFAULT_PLUGINS } from "../plugins/mod.ts";
import { prng } from "../tests/_prng.ts";

const N = 1_000_000;
const gc = (globalThis as unknown as { gc?: () => void }).gc;
if (!gc) throw new Error("Run with --v8-flags=--expose-gc");

function heap(): number {
  gc!();
  gc!();
  return Deno.memoryUsage().heapUsed;
}

function setup() {
  let now = 1_000_000;
  const broker = new Broker({ now, clock: () => now });
  for (const p of DEFAULT_PLUGINS) broker.register(p);
  const vhost = broker.addVHost("/");
  const advance = (ms: number) => {
    now += ms;
    broker.tick(now);
  };
  return { broker, vhost, advance };
}

const rand = prng(7);
const body = new Uint8Array(16); // one body for all: the figure is the cost beyond the bodies
const enc = new TextEncoder();

// ---- 1. delayed messages
{
  const { vhost, advance } = setup();
  const ex = vhost.declareExchange({
    name: "delayed",
    type: "x-delayed-message",
    passive: false,
    durable: false,
    autoDelete: false,
    internal: false,
    args: { "x-delayed-type": "direct" },
  });
  const q = vhost.declareQueue({
    name: "due",
    passive: false,
    durable: false,
    exclusive: false,
    autoDelete: false,
    args: {},
    owner: null,
  });
  vhost.bindQueue("due", {}, "delayed", "k", {});
  // Raw properties with a headers table { x-delay: I <ms> } (flags 0x2000).
  const props = (ms: number) => {
    const p = new Uint8Array(2 + 4 + 1 + 7 + 1 + 4);
    const v = new DataView(p.buffer);
    v.setUint16(0, 0x2000);
    v.setUint32(2, 1 + 7 + 1 + 4);
    p[6] = 7;
    p.set(enc.encode("x-delay"), 7);
    p[14] = 0x49;
    v.setInt32(15, ms);
    return p;
  };
  const messages = Array.from(
    { length: N },
    () => new Message("delayed", "k", props(1 + Math.floor(rand() * 3_600_000)), body),
  );
  const before = heap();
  const t0 = performance.now();
  for (const m of messages) {
    vhost.route(ex, "k", m.properties.headers);
    vhost.holdDelayed(m, "k");
  }
  const scheduleMs = performance.now() - t0;
  const after = heap();
  console.log(
    `delayed: ${vhost.delayedCount.toLocaleString("en-US")} pending, scheduled in ${
      scheduleMs.toFixed(0)
    } ms`,
  );
  console.log(
    `delayed: ${
      ((after - before) / N).toFixed(0)
    } bytes per pending message beyond its body and Message object`,
  );
  const t1 = performance.now();
  while (vhost.delayedCount > 0) advance(3_600_000);
  const releaseMs = performance.now() - t1;
  console.log(
    `delayed: ${q.messageCount.toLocaleString("en-US")} released in ${releaseMs.toFixed(0)} ms = ${
      Math.round(N / (releaseMs / 1000)).toLocaleString("en-US")
    } msg/s`,
  );
}

// ---- 2. TTL expiry spread through a queue
{
  const { vhost, advance } = setup();
  const q = vhost.declareQueue({
    name: "ttl",
    passive: false,
    durable: false,
    exclusive: false,
    autoDelete: false,
    args: {},
    owner: null,
  });
  for (let i = 0; i < N; i++) {
    const m = new Message("", "ttl", new Uint8Array(2), body);
    m.ttl = 1 + Math.floor(rand() * 60_000); // random order of expiry through the queue
    q.enqueue(m);
  }
  const t0 = performance.now();
  advance(60_001);
  const ms = performance.now() - t0;
  console.log(
    `ttl: ${N.toLocaleString("en-US")} messages expired in ${ms.toFixed(0)} ms = ${
      Math.round(N / (ms / 1000)).toLocaleString("en-US")
    } msg/s; ${q.messageCount} left`,
  );
}
