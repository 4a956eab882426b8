/**
 * dashboard_bench.ts — does an open web dashboard slow the broker down?
 *
 *   deno task bench:dashboard [--rounds 3] [--seconds 5] [--sizes 16,1024] [--scenarios pubsub,publish]
 *                             [--page queues] [--runtime deno|bun] [--chromium /usr/bin/chromium]
 *
 * Starts one broker (a child process: `server/main.ts` under Deno or Bun, AMQP and HTTP on free
 * ports, a fresh data directory), then runs `bench/amqp_bench.ts` against it `--rounds` times
 * without a browser and `--rounds` times with headless Chromium logged into the dashboard and
 * left on a page (default: Queues, the heaviest poll: /api/overview plus a page of /api/queues
 * every 5 s). The two kinds of run alternate (off/on, on/off, …) so drift in the machine's load
 * hits both alike. The browser is started before its run (and has polled at least once) and
 * closed after it, so "off" runs have no browser at all.
 *
 * Prints, per scenario and body size, the median msg/s (min–max) of each kind and the change,
 * and how many HTTP requests the dashboard made per minute. Then, as a figure that does not
 * depend on a noisy machine, the broker's own CPU time per dashboard poll (the Queues page's two
 * requests, 500 times, from /proc/PID/stat), with the bench's queues and with 10,000 queues.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const ROOT = new URL("../", import.meta.url).pathname;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    sizes: { type: "string", default: "16,1024" },
    scenarios: { type: "string", default: "pubsub" },
    page: { type: "string", default: "queues" },
    runtime: { type: "string", default: "deno" },
    chromium: { type: "string", default: Deno.env.get("WARREN_CHROMIUM") ?? "/usr/bin/chromium" },
  },
});
const rounds = Number(values.rounds);
const enc = new TextEncoder();
function log(line: string): void {
  Deno.stderr.writeSync(enc.encode(`[dashboard_bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`));
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`Cannot start the broker: port ${port} not open after ${ms} ms`);
}

const amqpPort = freePort();
const httpPort = freePort();
const dataDir = await Deno.makeTempDir({ prefix: "warren-dashboard-bench-" });
const brokerArgs = [
  "server/main.ts",
  "--host",
  "127.0.0.1",
  "--port",
  String(amqpPort),
  "--http-port",
  String(httpPort),
  "--data-dir",
  dataDir,
  "--log-level",
  "warn",
];
const broker = values.runtime === "bun"
  ? new Deno.Command("bun", { args: ["run", ...brokerArgs], cwd: ROOT, stdout: "null" }).spawn()
  : new Deno.Command("deno", {
    args: ["run", "-A", "--v8-flags=--expose-gc", ...brokerArgs],
    cwd: ROOT,
    stdout: "null",
  }).spawn();
await waitForPort(amqpPort, 20_000);
await waitForPort(httpPort, 20_000);
log(`broker (${values.runtime}) pid ${broker.pid}: AMQP ${amqpPort}, HTTP ${httpPort}`);

interface Row {
  scenario: string;
  size: number;
  msg_per_s: number;
  valid: boolean;
}

async function bench(): Promise<Row[]> {
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      "-A",
      "bench/amqp_bench.ts",
      "--url",
      `amqp://guest:guest@127.0.0.1:${amqpPort}/`,
      "--seconds",
      values.seconds!,
      "--sizes",
      values.sizes!,
      "--scenarios",
      values.scenarios!,
      "--json",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  const rows = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l) as Row
  );
  if (!out.success || rows.some((r) => !r.valid)) throw new Error("amqp_bench failed");
  return rows;
}

async function withDashboard<T>(fn: () => Promise<T>): Promise<{ result: T; requests: number; ms: number }> {
  const browser = await chromium.launch({
    executablePath: values.chromium,
    args: ["--headless", "--no-sandbox"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    let requests = 0;
    page.on("request", (r) => {
      if (r.url().includes("/api/")) requests++;
    });
    await page.goto(`http://127.0.0.1:${httpPort}/#/${values.page}`);
    await page.fill("input[name=username]", "guest");
    await page.fill("input[name=password]", "guest");
    await page.click("button[type=submit]");
    await page.waitForSelector("main");
    await new Promise((r) => setTimeout(r, 5500)); // at least one poll before measuring
    requests = 0;
    const t0 = Date.now();
    const result = await fn();
    return { result, requests, ms: Date.now() - t0 };
  } finally {
    await browser.close();
  }
}

/** CPU ms (user+system) of a process so far, from /proc/PID/stat (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

// What the dashboard asks every 5 s on the Queues page (see server/http/dashboard/assets/).
const QUEUE_COLUMNS = "name,vhost,type,durable,auto_delete,exclusive,arguments,policy,state,messages," +
  "messages_ready,messages_unacknowledged,message_bytes,consumers,message_stats.publish_details," +
  "message_stats.deliver_get_details,message_stats.ack_details";
const AUTH = { authorization: `Basic ${btoa("guest:guest")}` };

/** Broker CPU per dashboard poll (overview + a page of 50 queues), averaged over `n` polls. */
async function cpuPerPoll(n: number): Promise<number> {
  const urls = [
    `http://127.0.0.1:${httpPort}/api/overview`,
    `http://127.0.0.1:${httpPort}/api/queues?page=1&page_size=50&columns=${QUEUE_COLUMNS}`,
  ];
  const before = cpuMs(broker.pid);
  for (let i = 0; i < n; i++) {
    for (const url of urls) {
      const res = await fetch(url, { headers: AUTH });
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      await res.arrayBuffer();
    }
  }
  return (cpuMs(broker.pid) - before) / n;
}

const off: Row[][] = [];
const on: Row[][] = [];
let requests = 0;
let requestMs = 0;
const pollCost: { queues: number; ms: number }[] = [];
try {
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ["off", "on"] : ["on", "off"];
    for (const kind of order) {
      log(`round ${r + 1}/${rounds}: dashboard ${kind}`);
      if (kind === "off") off.push(await bench());
      else {
        const run = await withDashboard(bench);
        on.push(run.result);
        requests += run.requests;
        requestMs += run.ms;
      }
    }
  }
  log("broker CPU per poll: 2 queues, then 10,000");
  pollCost.push({ queues: 2, ms: await cpuPerPoll(500) });
  for (let i = 0; i < 10_000; i++) {
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/queues/%2F/poll-${i}`, {
      method: "PUT",
      headers: { ...AUTH, "content-type": "application/json" },
      body: "{}",
    });
    await res.arrayBuffer();
  }
  pollCost.push({ queues: 10_002, ms: await cpuPerPoll(100) });
} finally {
  broker.kill("SIGTERM");
  await broker.status;
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}

function stats(runs: Row[][], scenario: string, size: number): { median: number; min: number; max: number } {
  const xs = runs.map((rows) => rows.find((x) => x.scenario === scenario && x.size === size)!.msg_per_s).sort(
    (
      a,
      b,
    ) => a - b,
  );
  return { median: xs[Math.floor(xs.length / 2)], min: xs[0], max: xs[xs.length - 1] };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const lines = [
  `| scenario | body | dashboard closed | dashboard open (${values.page} page) | change |`,
  "| --- | --- | ---: | ---: | ---: |",
];
for (const row of off[0]) {
  const a = stats(off, row.scenario, row.size);
  const b = stats(on, row.scenario, row.size);
  const change = ((b.median - a.median) / a.median) * 100;
  lines.push(
    `| ${row.scenario} | ${row.size} B | ${fmt(a.median)} (${fmt(a.min)}–${fmt(a.max)}) | ${fmt(b.median)} (${
      fmt(b.min)
    }–${fmt(b.max)}) | ${change >= 0 ? "+" : ""}${change.toFixed(1)} % |`,
  );
}
// deno-lint-ignore no-console
console.log(lines.join("\n"));
// deno-lint-ignore no-console
console.log(
  `\n${rounds} rounds of ${values.seconds} s windows, broker under ${values.runtime}; the dashboard made ${
    (requests / (requestMs / 60_000)).toFixed(1)
  } API requests per minute while measured.`,
);
for (const { queues, ms } of pollCost) {
  // deno-lint-ignore no-console
  console.log(
    `Broker CPU per dashboard poll (overview + a page of 50 queues) with ${fmt(queues)} queues: ${
      ms.toFixed(2)
    } ms, i.e. ${(ms / 5000 * 100).toFixed(3)} % of one core at one poll per 5 s.`,
  );
}
