// The command line as operators use it: `server/main.ts` (what `deno task start` runs) exits 1
// with a one-line reason on a bad flag or a taken port, prints usage on --help, announces its
// address, and stops cleanly (exit 0) on SIGTERM, closing clients with 320 CONNECTION_FORCED.

import assert from "node:assert/strict";
import { AMQPClient } from "./_deps.ts";
import { isExternal, repoRoot } from "./_broker.ts";

const RUNTIME = Deno.env.get("WARREN_TEST_RUNTIME") === "bun" ? "bun" : "deno";

function command(args: string[]): Deno.Command {
  const runtimeArgs = RUNTIME === "bun" ? ["run", "server/main.ts"] : ["run", "-A", "server/main.ts"];
  return new Deno.Command(RUNTIME, {
    args: [...runtimeArgs, ...args],
    cwd: repoRoot,
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await command(args).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const ignore = isExternal;

Deno.test({
  name: "main.ts --help prints usage and exits 0",
  ignore,
  fn: async () => {
    const r = await run(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Warren — an AMQP 0-9-1 message broker/);
    for (
      const flag of [
        "--port",
        "--host",
        "--data-dir",
        "--http-port",
        "--log-level",
        "--heartbeat",
        "--frame-max",
        "--config",
      ]
    ) {
      assert.ok(r.stdout.includes(flag), `usage mentions ${flag}`);
    }
  },
});

Deno.test({
  name: "main.ts refuses a bad flag with exit 1 and one line naming it",
  ignore,
  fn: async () => {
    const r = await run(["--port", "notaport"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'warren: Invalid port "notaport": expected an integer from 0 to 65535 (see --help)\n',
    );
    const u = await run(["--frobnicate"]);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /^warren: Cannot parse command line: .*--frobnicate.* \(see --help\)\n$/);
  },
});

Deno.test({
  name: "main.ts exits 1 naming the address when the port is taken",
  ignore,
  fn: async () => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = (taken.addr as Deno.NetAddr).port;
      const dataDir = await Deno.makeTempDir();
      const r = await run([
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
        "--data-dir",
        dataDir,
        "--log-level",
        "none",
        "--http-port",
        "0",
      ]);
      await Deno.remove(dataDir, { recursive: true });
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `warren: Cannot listen on 127.0.0.1:${port}: address already in use\n`);
    } finally {
      taken.close();
    }
  },
});

Deno.test({
  name: "main.ts announces its address and stops on SIGTERM, closing clients with 320",
  ignore,
  fn: async () => {
    const dataDir = await Deno.makeTempDir();
    const child = command([
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--data-dir",
      dataDir,
      "--log-level",
      "none",
      "--http-port",
      "0",
    ]).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    let port = 0;
    while (port === 0) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
      port = Number(out.match(/^Warren listening on amqp:\/\/127\.0\.0\.1:(\d+)\n/)?.[1] ?? 0);
    }
    assert.ok(port > 0, `announced: ${JSON.stringify(out)}`);
    const conn = await new AMQPClient(`amqp://guest:guest@127.0.0.1:${port}`).connect();
    const closed = new Promise<unknown>((resolve) => (conn.onerror = resolve));
    child.kill("SIGTERM");
    const err = await closed as { message?: string };
    assert.match(
      String(err?.message),
      /connection closed: CONNECTION_FORCED - broker forced connection closure with reason 'shutdown' \(320\)$/,
    );
    const status = await child.status;
    await reader.cancel();
    await child.stderr.cancel();
    await Deno.remove(dataDir, { recursive: true });
    assert.equal(status.code, 0);
  },
});
