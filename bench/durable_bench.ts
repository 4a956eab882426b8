/**
 * Durable-path benchmark: persistent messages into a durable queue, for any AMQP 0-9-1 broker.
 *
 *   deno task bench:durable -- --url amqp://guest:guest@127.0.0.1:5672/ [--seconds 5] [--size 1024]
 *
 * Variants (each on a fresh durable queue, deleted afterwards):
 * - `confirms`: one publisher, publisher confirms, at most `--window` (1,000) unconfirmed
 *   messages, delivery-mode 2; figure: confirmed msg/s.
 * - `end-to-end`: the same publisher plus one consumer (prefetch 100, acks with multiple every
 *   10); figure: delivered msg/s.
 * Prints one line per variant (or JSON with --json). Bounded: each loop stops at the end of its
 * window. Compare brokers in one run (bench/durable_side_by_side.sh does).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Buffer } from "node:buffer";
// @ts-types="@types/amqplib"
import amqplib from "amqplib";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    url: { type: "string", default: Deno.env.get("AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672/" },
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    size: { type: "string", default: "1024" },
    window: { type: "string", default: "1000" },
    variants: { type: "string", default: "confirms,end-to-end" },
    label: { type: "string", default: "" },
    json: { type: "boolean", default: false },
  },
});
const seconds = Number(flags.seconds);
const warmup = Number(flags.warmup);
const size = Number(flags.size);
const windowSize = Number(flags.window);
const body = Buffer.alloc(size, 0x61);

interface Result {
  variant: string;
  label: string;
  size: number;
  rate: number;
  unit: string;
}

/** Publishes persistent messages with at most `windowSize` unconfirmed until `stop()` is called. */
async function publisher(conn: amqplib.ChannelModel, queue: string) {
  const ch = await conn.createConfirmChannel();
  let outstanding = 0;
  let confirmed = 0;
  let stopped = false;
  let wake: (() => void) | null = null;
  const loop = (async () => {
    while (!stopped) {
      while (outstanding < windowSize && !stopped) {
        outstanding++;
        ch.publish("", queue, body, { persistent: true }, (err) => {
          outstanding--;
          if (!err) confirmed++;
          const w = wake;
          wake = null;
          w?.();
        });
      }
      await new Promise<void>((r) => (wake = r));
    }
  })();
  return {
    get confirmed() {
      return confirmed;
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      await ch.waitForConfirms().catch(() => {});
      await ch.close().catch(() => {});
    },
  };
}

async function measure(read: () => number): Promise<number> {
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const n0 = read();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return (read() - n0) / ((performance.now() - t0) / 1000);
}

async function run(variant: string): Promise<Result> {
  const conn = await amqplib.connect(flags.url);
  const setup = await conn.createChannel();
  const queue = `bench.durable.${variant}.${Date.now()}`;
  await setup.assertQueue(queue, { durable: true });
  try {
    if (variant === "confirms") {
      const p = await publisher(conn, queue);
      const rate = await measure(() => p.confirmed);
      await p.stop();
      return { variant, label: flags.label, size, rate, unit: "confirmed msg/s" };
    }
    const consumerConn = await amqplib.connect(flags.url);
    const cch = await consumerConn.createChannel();
    await cch.prefetch(100);
    let delivered = 0;
    await cch.consume(queue, (m) => {
      if (m === null) return;
      if (++delivered % 10 === 0) cch.ack(m, true);
    });
    const p = await publisher(conn, queue);
    const rate = await measure(() => delivered);
    await p.stop();
    await consumerConn.close();
    return { variant, label: flags.label, size, rate, unit: "delivered msg/s" };
  } finally {
    await setup.deleteQueue(queue).catch(() => {});
    await conn.close().catch(() => {});
  }
}

for (const variant of flags.variants.split(",")) {
  const r = await run(variant);
  if (flags.json) {
    // deno-lint-ignore no-console
    console.log(JSON.stringify(r));
  } else {
    // deno-lint-ignore no-console
    console.log(
      `${r.label.padEnd(12)} ${variant.padEnd(11)} ${size} B  ${
        Math.round(r.rate).toLocaleString("en")
      } ${r.unit}`,
    );
  }
}
