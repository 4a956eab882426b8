/**
 * Smoke test of the single binary (`dist/warren`, built by `deno task build:bun`): start it on a
 * free port, connect with a real client, publish and consume one message, stop it with SIGTERM.
 * Prints the binary's size and its time from spawn to accepting connections.
 *
 * Run: `deno task smoke:binary`
 *
 * @module
 */

import assert from "node:assert/strict";
import { AMQPClient } from "@cloudamqp/amqp-client";

const binary = new URL("../dist/warren", import.meta.url).pathname;
const size = (await Deno.stat(binary)).size;
const started = performance.now();
const child = new Deno.Command(binary, {
  args: ["--port", "0", "--host", "127.0.0.1", "--log-level", "warn", "--http-port", "0"],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let out = "";
let port = 0;
let httpPort = 0;
const deadline = Date.now() + 10_000;
while ((port === 0 || httpPort === 0) && Date.now() < deadline) {
  const { value, done } = await reader.read();
  if (done) break;
  out += value;
  const m = out.match(/listening on amqp:\/\/[^\s]*:(\d+)/);
  if (m) port = Number(m[1]);
  const h = out.match(/management API on http:\/\/[^\s]*:(\d+)/);
  if (h) httpPort = Number(h[1]);
}
const readyMs = performance.now() - started;
assert.ok(port > 0, `binary did not report a port: ${out}`);
try {
  const client = new AMQPClient(`amqp://guest:guest@127.0.0.1:${port}`);
  const conn = await client.connect();
  const ch = await conn.channel();
  const q = await ch.queue("");
  await q.publish("hello from the binary");
  const msg = await q.get({ noAck: true });
  assert.equal(msg?.bodyToString(), "hello from the binary");
  await conn.close();
  // The management API, served by the binary's own HTTP server (Bun.serve).
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/overview`, {
    headers: { authorization: `Basic ${btoa("guest:guest")}` },
  });
  assert.equal(res.status, 200, "binary's management API did not answer");
  assert.equal((await res.json()).product_name, "Warren");
  // The web dashboard's files are inside the binary (no files read at run time).
  const page = await fetch(`http://127.0.0.1:${httpPort}/`);
  assert.match(await page.text(), /dashboard\/app\.js/, "binary does not serve the dashboard page");
  const script = await fetch(`http://127.0.0.1:${httpPort}/dashboard/app.js`);
  assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.match(await script.text(), /sampleOverview/, "binary does not serve the dashboard's scripts");
} finally {
  child.kill("SIGTERM");
  const status = await child.status;
  await reader.cancel();
  assert.equal(status.code, 0, "binary did not exit cleanly on SIGTERM");
}
// deno-lint-ignore no-console
console.log(
  `binary ok: ${binary} ${(size / 1024 / 1024).toFixed(1)} MiB, ready in ${
    readyMs.toFixed(0)
  } ms (spawn to listening), management API on HTTP port ${httpPort}`,
);
