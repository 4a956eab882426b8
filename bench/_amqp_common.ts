/**
 * Pieces shared by bench/amqp_bench.ts and its publisher worker (bench/_publisher_worker.ts):
 * timeouts, connection set-up on @cloudamqp/amqp-client, and the bounded publish loop.
 *
 * @module
 */
// deno.json has no import map entry for it (yet); the version is pinned here.
import { AMQPClient } from "@cloudamqp/amqp-client-4";
import type { AMQPBaseClient, AMQPChannel, AMQPMessage } from "@cloudamqp/amqp-client-4";

export { AMQPClient };
export type { AMQPBaseClient, AMQPChannel, AMQPMessage };

export const sleep = (ms: number): Promise<void> => new Promise<void>((r) => setTimeout(r, ms));

export class TimeoutError extends Error {}

/** Rejects after `ms` unless `p` settles first; the timer never keeps the process alive. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms} ms`)), ms);
    Deno.unrefTimer(timer);
    id = timer;
  });
  return Promise.race([p, t]).finally(() => clearTimeout(id));
}

export function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

// ---------------------------------------------------------------------------------------------
// connections

export interface Conn {
  client: AMQPClient;
  conn: AMQPBaseClient;
  ch: AMQPChannel;
  /** first error reported by the connection (socket error, connection.close from the broker) */
  error?: unknown;
}

export async function openConn(url: string, name: string, timeoutMs: number): Promise<Conn> {
  const u = new URL(url);
  u.searchParams.set("name", name);
  if (!u.searchParams.has("heartbeat")) u.searchParams.set("heartbeat", "0");
  // ask for 128 KiB frames (the broker may lower it): a 1 KiB body is one frame either way
  if (!u.searchParams.has("frameMax")) u.searchParams.set("frameMax", "131072");
  const client = new AMQPClient(u.toString());
  const c: Partial<Conn> = { client };
  client.onerror = (e) => {
    c.error ??= e;
  };
  try {
    c.conn = await withTimeout(client.connect(), timeoutMs, `connect ${redactUrl(url)}`);
    // like the Go and Java clients: no Nagle (publishes are batched by cork/uncork anyway)
    client.socket?.setNoDelay(true);
    c.ch = await withTimeout(c.conn.channel(), timeoutMs, "channel.open");
  } catch (e) {
    try {
      client.socket?.destroy();
    } catch { /* ignore */ }
    throw e;
  }
  return c as Conn;
}

export async function closeConn(c: Conn | undefined, timeoutMs: number): Promise<void> {
  if (!c) return;
  try {
    if (!c.conn.closed && !c.error) {
      await withTimeout(c.conn.close(), Math.min(timeoutMs, 3000), "connection.close");
    }
  } catch { /* ignore: the socket is torn down below anyway */ }
  try {
    c.client.socket?.destroy();
  } catch { /* ignore */ }
}

// ---------------------------------------------------------------------------------------------
// counters shared between the consumer (main thread) and the publisher (main thread or worker)

/** Int32 slots of the shared counter array. */
export const PUBLISHED = 0, CONSUMED = 1, STOP = 2, THROTTLED_MS = 3, LOOP_DONE = 4;
export const COUNTER_SLOTS = 8;

export function newCounters(shared: boolean): Int32Array {
  const bytes = COUNTER_SLOTS * 4;
  return new Int32Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
}

export interface PublishParams {
  queue: string;
  size: number;
  batch: number;
  /** "raw": write pre-encoded publish frames; "lib": one basicPublish() call per message */
  mode: "raw" | "lib";
  maxMessages: number;
  /** pause while published - consumed >= this (0 = never pause) */
  maxOutstanding: number;
}

/**
 * The wire bytes of one basic.publish to `exchange`/`routingKey` with no properties (transient):
 * method frame, content header frame, body frame(s) split at frameMax (AMQP 0-9-1, section 4.2).
 */
export function encodePublish(
  channel: number,
  exchange: string,
  routingKey: string,
  body: Uint8Array,
  frameMax: number,
): Uint8Array {
  const te = new TextEncoder();
  const ex = te.encode(exchange), rk = te.encode(routingKey);
  if (ex.length > 255 || rk.length > 255) throw new Error("exchange/routing key longer than 255 bytes");
  const maxPayload = frameMax - 8;
  const bodyFrames = Math.max(1, Math.ceil(body.length / maxPayload));
  const methodPayload = 2 + 2 + 2 + 1 + ex.length + 1 + rk.length + 1;
  const headerPayload = 2 + 2 + 8 + 2;
  const total = (7 + methodPayload + 1) + (7 + headerPayload + 1) +
    (body.length === 0 ? 0 : bodyFrames * 8 + body.length);
  const buf = new Uint8Array(total);
  const v = new DataView(buf.buffer);
  let i = 0;
  const frameStart = (type: number, size: number) => {
    v.setUint8(i, type);
    v.setUint16(i + 1, channel);
    v.setUint32(i + 3, size);
    i += 7;
  };
  // basic.publish (class 60, method 40): reserved-1, exchange, routing-key, mandatory|immediate = 0
  frameStart(1, methodPayload);
  v.setUint16(i, 60), v.setUint16(i + 2, 40), v.setUint16(i + 4, 0);
  i += 6;
  buf[i++] = ex.length;
  buf.set(ex, i);
  i += ex.length;
  buf[i++] = rk.length;
  buf.set(rk, i);
  i += rk.length;
  buf[i++] = 0;
  buf[i++] = 0xce;
  // content header: class 60, weight 0, body size (64 bit), property flags 0
  frameStart(2, headerPayload);
  v.setUint16(i, 60), v.setUint16(i + 2, 0);
  v.setBigUint64(i + 4, BigInt(body.length));
  v.setUint16(i + 12, 0);
  i += 14;
  buf[i++] = 0xce;
  for (let pos = 0; pos < body.length; pos += maxPayload) {
    const part = body.subarray(pos, pos + maxPayload);
    frameStart(3, part.length);
    buf.set(part, i);
    i += part.length;
    buf[i++] = 0xce;
  }
  if (i !== total) throw new Error(`encodePublish: wrote ${i} of ${total} bytes`);
  return buf;
}

/**
 * Publishes transient messages to `queue` through the default exchange until `counters[STOP]`
 * is set (or `stopped` resolves), `maxMessages` is reached, or the connection fails.
 *
 * mode "lib": `batch` basicPublish() calls corked into one write; only the batch's last promise
 * (resolved by the socket write callback) is awaited, which gives back-pressure without a round
 * trip per message. mode "raw": every message is the same bytes, so `batch` pre-encoded publishes
 * are one buffer written with one socket.write() (what amqpbench's Go client does with its frame
 * templates); the library still does the handshake, channel, declares and the drain round trip.
 */
export async function publishLoop(
  pub: Conn,
  p: PublishParams,
  counters: Int32Array,
  stopped: Promise<void>,
  fault: () => unknown,
): Promise<void> {
  const ch = pub.ch;
  const sock = pub.client.socket;
  const body = new Uint8Array(p.size).fill(0x78);
  let block: Uint8Array | undefined, one = 0;
  if (p.mode === "raw") {
    const msg = encodePublish(ch.id, "", p.queue, body, pub.conn.frameMax || 131072);
    one = msg.length;
    // batch messages per write, but keep a write to about 256 KiB
    const n = Math.max(1, Math.min(p.batch, Math.floor(262144 / one)));
    block = new Uint8Array(n * one);
    for (let k = 0; k < n; k++) block.set(msg, k * one);
  }
  const writeRaw = (bytes: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      if (!sock) return reject(new Error("publisher socket is gone"));
      sock.write(bytes, (e?: Error | null) => (e ? reject(e) : resolve()));
    });
  const resumeAt = Math.floor(p.maxOutstanding * 0.9);
  let published = 0;
  let paused = false;
  let throttledMs = 0;
  try {
    while (Atomics.load(counters, STOP) === 0) {
      if (pub.error || fault()) return;
      if (published >= p.maxMessages) return;
      if (p.maxOutstanding > 0) {
        const outstanding = published - Atomics.load(counters, CONSUMED);
        // stop at maxOutstanding, resume below 90 % of it
        if (outstanding >= p.maxOutstanding || (paused && outstanding > resumeAt)) {
          paused = true;
          const t0 = performance.now();
          await sleep(1);
          throttledMs += performance.now() - t0;
          Atomics.store(counters, THROTTLED_MS, Math.round(throttledMs));
          continue;
        }
        paused = false;
      }
      let last: Promise<unknown> | undefined;
      let n: number;
      if (block) {
        n = Math.min(block.length / one, p.maxMessages - published);
        last = writeRaw(n * one === block.length ? block : block.subarray(0, n * one));
      } else {
        n = Math.min(p.batch, p.maxMessages - published);
        sock?.cork();
        for (let i = 0; i < n; i++) last = ch.basicPublish("", p.queue, body);
        sock?.uncork();
      }
      published += n;
      Atomics.store(counters, PUBLISHED, published);
      // back-pressure: wait until the batch has left user space (or the run is stopped)
      await Promise.race([last, stopped]);
    }
  } finally {
    Atomics.store(counters, LOOP_DONE, 1);
  }
}
