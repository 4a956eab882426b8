/**
 * Store benchmark: a deep durable queue's memory, and recovery time after a crash.
 *
 *   deno task bench:store -- [--messages 1000000] [--size 1024] [--runtime deno|bun]
 *
 * Starts Warren as a child process on a fresh data directory, publishes `--messages` persistent
 * messages into one durable queue (no consumer), sampling the broker's resident memory (RSS,
 * from /proc) throughout; then kills it with SIGKILL, starts it again on the same directory and
 * reports the time from spawn to accepting connections (recovery included), the depth found,
 * and the time until the first and the last-checked messages can be fetched. Bounded: it stops
 * after the given number of messages. Data goes to a temporary directory, removed at the end.
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
    messages: { type: "string", default: "1000000" },
    size: { type: "string", default: "1024" },
    runtime: { type: "string", default: "deno" },
    dir: { type: "string" },
  },
});
const total = Number(flags.messages);
const size = Number(flags.size);
const repo = new URL("../", import.meta.url).pathname;

function rssOf(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function start(dir: string): Promise<{ child: Deno.ChildProcess; port: number; ms: number }> {
  const t0 = performance.now();
  const args = flags.runtime === "bun"
    ? ["run", "server/main.ts"]
    : ["run", "-A", "--v8-flags=--expose-gc", "server/main.ts"];
  args.push(
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--http-port",
    "0",
    "--data-dir",
    dir,
    "--log-level",
    "info",
  );
  const child = new Deno.Command(flags.runtime === "bun" ? "bun" : Deno.execPath(), {
    args,
    cwd: repo,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`broker exited before listening: ${text}`);
    text += value;
    const m = /listening on amqp:\/\/[^:]+:(\d+)/.exec(text);
    if (m) {
      const ms = performance.now() - t0;
      (async () => {
        for (;;) if ((await reader.read()).done) break;
      })();
      (async () => {
        const log = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value: line, done: end } = await log.read();
          if (end) break;
          if (/store recovered/.test(line)) {
            Deno.stderr.writeSync(new TextEncoder().encode(`  broker: ${line}`));
          }
        }
      })();
      return { child, port: Number(m[1]), ms };
    }
  }
}

const dir = flags.dir ?? await Deno.makeTempDir({ prefix: "warren-store-bench-" });
const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
try {
  let b = await start(`${dir}/data`);
  out(
    `runtime ${flags.runtime}: ${
      total.toLocaleString("en")
    } persistent messages of ${size} B into one durable queue`,
  );
  let conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${b.port}`);
  const ch = await conn.createChannel();
  await ch.assertQueue("deep", { durable: true });
  const body = Buffer.alloc(size, 0x62);
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(b.child.pid))), 250);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    if (!ch.sendToQueue("deep", body, { persistent: true })) await new Promise((r) => ch.once("drain", r));
    if (i % 1_000_000 === 999_999) {
      out(
        `  ${(i + 1).toLocaleString("en")} published, RSS ${(rssOf(b.child.pid) / 2 ** 20).toFixed(0)} MiB`,
      );
    }
  }
  const confirm = await conn.createConfirmChannel();
  await new Promise<void>((resolve, reject) =>
    confirm.sendToQueue("deep", body, { persistent: true }, (err) => err ? reject(err) : resolve())
  );
  const pubSecs = (performance.now() - t0) / 1000;
  const depth = (await ch.checkQueue("deep")).messageCount;
  await new Promise((r) => setTimeout(r, 1000));
  clearInterval(sampler);
  const settled = rssOf(b.child.pid);
  out(
    `publish: ${Math.round(total / pubSecs).toLocaleString("en")} msg/s; depth ${
      depth.toLocaleString("en")
    }; ` +
      `broker RSS peak ${(peakRss / 2 ** 20).toFixed(0)} MiB, after ${(settled / 2 ** 20).toFixed(0)} MiB`,
  );
  conn.on("error", () => {});
  b.child.kill("SIGKILL");
  await b.child.status;

  b = await start(`${dir}/data`);
  out(`restart after kill -9: listening after ${b.ms.toFixed(0)} ms (spawn, runtime start-up and recovery)`);
  conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${b.port}`);
  const c2 = await conn.createChannel();
  const found = (await c2.checkQueue("deep")).messageCount;
  const t1 = performance.now();
  const first = await c2.get("deep", { noAck: true });
  out(
    `recovered depth ${found.toLocaleString("en")}; first message fetched ${
      (performance.now() - t1).toFixed(1)
    } ms after; RSS ${(rssOf(b.child.pid) / 2 ** 20).toFixed(0)} MiB; first body ${
      first ? first.content.length : "none"
    } B`,
  );
  await conn.close();
  b.child.kill("SIGTERM");
  await b.child.status;
} finally {
  if (!flags.dir) await Deno.remove(dir, { recursive: true });
}
