/**
 * Crash loop: the broker is killed with SIGKILL at random moments while a publisher with confirms
 * sends persistent messages to a durable queue and a consumer acks some of them; it is started
 * again on the same data directory each time. At the end the queue is drained and checked against
 * what the clients saw (DESIGN.md "Durability contract", issue 5):
 *
 * - every confirmed message that the consumer did not ack is there (none missing);
 * - a message seen twice is marked redelivered the second time (an ack the broker received but had
 *   not journaled before the kill may bring a message back: at least once, not exactly once);
 * - every body is the one published for its sequence number; nothing unknown appears;
 * - the final drain (no consumer, fresh start) is in publish order.
 *
 * Prints the counts and exits 1 on a missing, corrupt, unknown or out-of-order message, or on a
 * broker that does not start. Duplicates not marked redelivered are counted and shown (the
 * delivered mark is journaled in the same turn as the delivery, so a kill can fall between the
 * two); `--strict` makes them fail the run too.
 *
 * Run: `deno task crash-loop [--iterations 20] [--runtime deno|bun] [--seed N] [--strict]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Buffer } from "node:buffer";
import { amqplib } from "./integration/_deps.ts";
import type { AmqplibConnection, ConfirmChannel } from "./integration/_deps.ts";
import { spawnWarren, tempDataDir, type WarrenProcess } from "./integration/_process.ts";
import { prng } from "./_prng.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    iterations: { type: "string", default: "20" },
    runtime: { type: "string", default: "deno" },
    seed: { type: "string" },
    strict: { type: "boolean", default: false },
    "min-ms": { type: "string", default: "100" },
    "max-ms": { type: "string", default: "1500" },
    keep: { type: "boolean", default: false },
  },
});
const ITERATIONS = Number(flags.iterations);
const RUNTIME = flags.runtime as "deno" | "bun";
if (!Number.isInteger(ITERATIONS) || ITERATIONS < 1) {
  throw new RangeError(`Invalid iterations "${flags.iterations}"`);
}
if (RUNTIME !== "deno" && RUNTIME !== "bun") throw new RangeError(`Invalid runtime "${flags.runtime}"`);
const SEED = flags.seed !== undefined ? Number(flags.seed) : Math.floor(Math.random() * 2 ** 31);
const MIN_MS = Number(flags["min-ms"]);
const MAX_MS = Number(flags["max-ms"]);
const random = prng(SEED);
const QUEUE = "crash.loop";
/** Publishes in flight (unconfirmed) at most. */
const WINDOW = 500;
/** The whole run must end within this, ms (a hang is a failure, not a stuck CI). */
const DEADLINE_MS = 30_000 + ITERATIONS * 8_000;

function log(line: string): void {
  // deno-lint-ignore no-console
  console.log(line);
}

/** The body of message `seq`: its number, then filler of a length that depends on it. */
function body(seq: number): Buffer {
  const filler = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(10).slice(0, (seq * 37) % 300);
  return Buffer.from(`${seq}:${filler}`);
}

function seqOf(content: Buffer): number {
  const s = content.toString();
  const n = Number(s.slice(0, s.indexOf(":")));
  return Number.isInteger(n) && body(n).equals(content) ? n : -1;
}

// ---------------------------------------------------------------- what the clients saw

let nextSeq = 0;
const confirmed = new Set<number>();
const nacked = new Set<number>();
/** Sequence numbers whose ack the consumer sent. */
const acked = new Set<number>();
/** Deliveries per sequence number. */
const deliveries = new Map<number, number>();
let deliveredTotal = 0;
let redeliveredTotal = 0;
/** Deliveries of a message delivered before, without the redelivered flag. */
let unmarkedDuplicates = 0;
/** Deliveries of a message whose ack had been sent (the broker lost the ack in the kill). */
let ackedAgain = 0;
let corrupt = 0;
const errorLines: string[] = [];

function delivered(seq: number, redelivered: boolean): void {
  deliveredTotal++;
  if (redelivered) redeliveredTotal++;
  const n = deliveries.get(seq) ?? 0;
  if (n > 0 && !redelivered) unmarkedDuplicates++;
  if (acked.has(seq)) ackedAgain++;
  deliveries.set(seq, n + 1);
}

// ---------------------------------------------------------------- one run of the broker

async function connect(url: string): Promise<AmqplibConnection | null> {
  try {
    const c = await amqplib.connect(url);
    c.on("error", () => {});
    return c;
  } catch {
    return null; // killed before we got in
  }
}

/** Publishes until the connection dies. */
async function publisher(url: string, stop: { killed: boolean }): Promise<void> {
  const conn = await connect(url);
  if (conn === null) return;
  let ch: ConfirmChannel;
  try {
    ch = await conn.createConfirmChannel();
    ch.on("error", () => {});
    await ch.assertQueue(QUEUE, { durable: true });
  } catch {
    return;
  }
  let outstanding = 0;
  let wake: (() => void) | null = null;
  let closed = false;
  conn.on("close", () => {
    closed = true;
    wake?.();
  });
  while (!closed && !stop.killed) {
    while (outstanding < WINDOW && !closed) {
      const seq = nextSeq++;
      outstanding++;
      try {
        ch.sendToQueue(QUEUE, body(seq), { persistent: true }, (err) => {
          outstanding--;
          // After the connection dies amqplib fails every pending callback: not a broker answer.
          if (err === null || err === undefined) confirmed.add(seq);
          else if (!closed && !stop.killed) nacked.add(seq);
          if (outstanding < WINDOW / 2) wake?.();
        });
      } catch {
        closed = true; // the channel went away under us
      }
    }
    if (closed) break;
    await new Promise<void>((r) => (wake = r));
    wake = null;
  }
}

/** Consumes with manual acks: acks most at once, holds some back and acks them a little later. */
async function consumer(url: string): Promise<void> {
  const conn = await connect(url);
  if (conn === null) return;
  try {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    await ch.assertQueue(QUEUE, { durable: true });
    await ch.prefetch(100);
    const held: amqplib.ConsumeMessage[] = [];
    let closed = false;
    conn.on("close", () => (closed = true));
    await ch.consume(QUEUE, (m) => {
      if (m === null || closed) return;
      const seq = seqOf(m.content);
      if (seq < 0) {
        corrupt++;
        return;
      }
      delivered(seq, m.fields.redelivered);
      if (random() < 0.25) {
        held.push(m); // delivered, not yet acked: comes back redelivered if the kill comes first
        if (held.length === 1) {
          setTimeout(() => {
            if (closed) return;
            for (const h of held.splice(0)) {
              ch.ack(h);
              acked.add(seqOf(h.content));
            }
          }, 30);
        }
      } else {
        ch.ack(m);
        acked.add(seq);
      }
    });
  } catch {
    // killed meanwhile
  }
}

async function runOnce(dataDir: string, i: number): Promise<void> {
  const proc = await start(dataDir, `iteration ${i}`);
  const stop = { killed: false };
  const killAfter = Math.round(MIN_MS + random() * (MAX_MS - MIN_MS));
  const withConsumer = random() < 0.7;
  const before = { confirmed: confirmed.size, delivered: deliveredTotal, acked: acked.size, next: nextSeq };
  const clients = [publisher(proc.url, stop), withConsumer ? consumer(proc.url) : Promise.resolve()];
  await new Promise((r) => setTimeout(r, killAfter));
  stop.killed = true;
  await proc.crash();
  await Promise.all(clients);
  log(
    `#${i}: killed after ${killAfter} ms; published ${nextSeq - before.next}, confirmed ${
      confirmed.size - before.confirmed
    }, delivered ${deliveredTotal - before.delivered}, acked ${acked.size - before.acked}${
      withConsumer ? "" : " (no consumer)"
    }; ${recoveryLine(proc)}`,
  );
}

async function start(dataDir: string, what: string): Promise<WarrenProcess> {
  let proc: WarrenProcess;
  try {
    proc = await spawnWarren(dataDir, { runtime: RUNTIME, logLevel: "info" });
  } catch (err) {
    log(`FAIL: the broker did not start (${what}): ${(err as Error).message}`);
    Deno.exit(1);
  }
  return proc;
}

/** The start-up's recovery summary, and any error lines (damage found), from the broker's log. */
function recoveryLine(proc: WarrenProcess): string {
  const text = proc.stderr();
  const m = text.match(/store recovered .*?messages=(\d+).*?ms=(\d+)/);
  for (const l of text.split("\n")) if (/ error /.test(l)) errorLines.push(l);
  return m ? `recovered ${m[1]} messages in ${m[2]} ms` : "no recovery line";
}

// ---------------------------------------------------------------- the run

const deadline = setTimeout(() => {
  log(`FAIL: crash loop did not finish within ${DEADLINE_MS} ms`);
  Deno.exit(1);
}, DEADLINE_MS);

const { dir, cleanup } = await tempDataDir("warren-crash-loop-");
const dataDir = `${dir}/data`;
log(`crash loop: ${ITERATIONS} iterations, broker on ${RUNTIME}, seed ${SEED}, data ${dataDir}`);
const started = Date.now();
for (let i = 1; i <= ITERATIONS; i++) await runOnce(dataDir, i);

// Final start: drain the queue with nobody else connected.
const final = await start(dataDir, "final drain");
const finalRecovery = recoveryLine(final);
const conn = await amqplib.connect(final.url);
const ch = await conn.createChannel();
const { messageCount } = await ch.assertQueue(QUEUE, { durable: true });
const consumerDeliveries = deliveredTotal;
const consumerRedelivered = redeliveredTotal;
const drained: number[] = [];
let drainRedelivered = 0;
await new Promise<void>((resolve) => {
  if (messageCount === 0) return resolve();
  ch.consume(QUEUE, (m) => {
    if (m === null) return;
    const seq = seqOf(m.content);
    if (seq < 0) corrupt++;
    else {
      if (m.fields.redelivered) drainRedelivered++;
      if (acked.has(seq)) ackedAgain++;
      drained.push(seq);
      delivered(seq, m.fields.redelivered);
    }
    if (drained.length + corrupt >= messageCount) resolve();
  }, { noAck: true });
});
const extra = (await ch.checkQueue(QUEUE)).messageCount;
await conn.close();
await final.stop();
clearTimeout(deadline);

// ---------------------------------------------------------------- the verdict

const inDrain = new Set(drained);
const missing = [...confirmed].filter((s) => !acked.has(s) && !inDrain.has(s)).sort((a, b) => a - b);
const unknown = drained.filter((s) => s >= nextSeq);
let outOfOrder = 0;
for (let k = 1; k < drained.length; k++) if (drained[k] <= drained[k - 1]) outOfOrder++;
const drainDuplicates = drained.length - inDrain.size;
const unconfirmedPresent = drained.filter((s) => !confirmed.has(s)).length;

log(`final start: ${finalRecovery}; drained ${drained.length} (redelivered ${drainRedelivered})`);
log(
  [
    `published ${nextSeq}`,
    `confirmed ${confirmed.size}`,
    `nacked ${nacked.size}`,
    `delivered to the consumer ${consumerDeliveries} (redelivered ${consumerRedelivered}, acked ${acked.size})`,
    `acked but delivered again ${ackedAgain}`,
    `duplicates not marked redelivered ${unmarkedDuplicates}`,
    `duplicates in the drain ${drainDuplicates}`,
    `unconfirmed but kept ${unconfirmedPresent}`,
    `missing ${missing.length}`,
    `corrupt ${corrupt}`,
    `unknown ${unknown.length}`,
    `out of order ${outOfOrder}`,
    `left after drain ${extra}`,
    `store error lines ${errorLines.length}`,
    `${((Date.now() - started) / 1000).toFixed(1)} s`,
  ].join(", "),
);
for (const l of errorLines.slice(0, 10)) log(`  broker: ${l}`);
if (missing.length > 0) log(`  missing (first 20): ${missing.slice(0, 20).join(" ")}`);
const failed = missing.length > 0 || corrupt > 0 || unknown.length > 0 || outOfOrder > 0 || extra > 0 ||
  drainDuplicates > 0 || (flags.strict && unmarkedDuplicates > 0);
if (failed) {
  log(`FAIL (replay with --seed ${SEED}; data kept in ${dataDir})`);
  Deno.exit(1);
}
if (!flags.keep) await cleanup();
log("OK: no confirmed message lost");
