// A user exchange-type plugin loaded from a path (`--plugin`) and used from an ordinary client, and the
// one-line failure for a plugin that cannot be loaded. Warren only: RabbitMQ has no such flag. The broker
// runs under Deno, or under Bun when WARREN_TEST_RUNTIME=bun.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { isExternal, repoRoot, type TestCtx, waitFor } from "./_broker.ts";
import { amqplibConnect, expectChannelClose } from "./_clients.ts";
import type { Message } from "./_deps.ts";

const RUNTIME = Deno.env.get("WARREN_TEST_RUNTIME") === "bun" ? "bun" : "deno";
const PLUGIN = "tests/integration/fixtures/x_first_word.ts";
const STARTUP_TIMEOUT_MS = 20_000;

function command(args: string[], piped = true): Deno.Command {
  const runtimeArgs = RUNTIME === "bun" ? ["run", "server/main.ts"] : ["run", "-A", "server/main.ts"];
  return new Deno.Command(RUNTIME === "bun" ? "bun" : Deno.execPath(), {
    args: [...runtimeArgs, "--port", "0", "--host", "127.0.0.1", "--log-level", "error", ...args],
    cwd: repoRoot,
    stdin: "null",
    stdout: piped ? "piped" : "null",
    stderr: "piped",
  });
}

interface Spawned {
  port: number;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
}

/** Starts `server/main.ts` with extra flags and waits for `Warren listening on amqp://127.0.0.1:PORT`. */
async function spawnWarren(args: string[]): Promise<Spawned> {
  const child = command(args).spawn();
  let stdout = "";
  let stderr = "";
  const stderrDone = (async () => {
    const dec = new TextDecoder();
    for await (const c of child.stderr) stderr += dec.decode(c, { stream: true });
  })();
  let found!: (port: number) => void;
  const portFound = new Promise<number>((r) => (found = r));
  const stdoutDone = (async () => {
    const dec = new TextDecoder();
    for await (const c of child.stdout) {
      stdout += dec.decode(c, { stream: true });
      const m = stdout.match(/^Warren listening on amqp:\/\/127\.0\.0\.1:(\d+)$/m);
      if (m) found(Number(m[1]));
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    portFound,
    child.status.then((s) => `exited with code ${s.code}`),
    new Promise<string>((r) => (timer = setTimeout(() => r("no listening line"), STARTUP_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const { code } = await child.status;
    await Promise.all([stdoutDone, stderrDone]);
    return code;
  };
  if (typeof outcome === "string") {
    await stop();
    throw new Error(
      `${RUNTIME} server/main.ts ${outcome}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
    );
  }
  return { port: outcome, stop };
}

/** A minimal test context for ./_clients.ts against a broker this file started. */
function clientCtx(t: Deno.TestContext, port: number, cleanups: (() => unknown)[]): TestCtx {
  const url = `amqp://guest:guest@127.0.0.1:${port}/`;
  return {
    url,
    broker: { url, host: "127.0.0.1", port, stop: () => Promise.resolve() },
    defer: (fn) => cleanups.push(fn),
    t,
  };
}

Deno.test({
  name: `plugin: an x-first-word exchange from ${PLUGIN}, declared and used through amqplib (${RUNTIME})`,
  ignore: isExternal,
  async fn(t) {
    const tmp = await Deno.makeTempDir({ prefix: "warren-plugin-test-" });
    const warren = await spawnWarren(["--data-dir", `${tmp}/data`, "--plugin", PLUGIN]).catch(async (e) => {
      await Deno.remove(tmp, { recursive: true });
      throw e;
    });
    const cleanups: (() => unknown)[] = [];
    try {
      const ctx = clientCtx(t, warren.port, cleanups);
      const conn = await amqplibConnect(ctx);
      const ch = await conn.createConfirmChannel();
      const returned: Message[] = [];
      ch.on("return", (m: Message) => returned.push(m));

      assert.deepEqual(await ch.assertExchange("by-first-word", "x-first-word", { durable: false }), {
        exchange: "by-first-word",
      });
      // Redeclared with another type: the usual 406 applies to plugin types too.
      assert.deepEqual(
        await expectChannelClose(
          conn,
          (c) => c.assertExchange("by-first-word", "direct", { durable: false }),
        ),
        {
          code: 406,
          text: "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'by-first-word' in vhost '/': " +
            "received 'direct' but current is 'x-first-word'",
        },
      );
      const orders = (await ch.assertQueue("", { exclusive: true })).queue;
      const refunds = (await ch.assertQueue("", { exclusive: true })).queue;
      await ch.bindQueue(orders, "by-first-word", "orders");
      await ch.bindQueue(refunds, "by-first-word", "refunds");
      await ch.bindQueue(refunds, "by-first-word", "orders.eu"); // never matches: one word only

      const keys = ["orders.eu.created", "refunds.42", "orders", "ordersX.y", ".orders", "", "refunds.x.y"];
      for (const k of keys) ch.publish("by-first-word", k, Buffer.from(k), { mandatory: true });
      await ch.waitForConfirms();

      const drain = async (q: string, n: number) => {
        await waitFor(async () => (await ch.checkQueue(q)).messageCount === n, { message: `${n} in ${q}` });
        const out: string[] = [];
        for (let m; (m = await ch.get(q, { noAck: true }));) out.push(m.content.toString());
        return out;
      };
      assert.deepEqual(await drain(orders, 2), ["orders.eu.created", "orders"]);
      assert.deepEqual(await drain(refunds, 2), ["refunds.42", "refunds.x.y"]);
      assert.deepEqual(returned.map((r) => r.fields.routingKey), ["ordersX.y", ".orders", ""]);

      // A consumer gets it too, and unbinding works through the plugin's unbind.
      const got: string[] = [];
      await ch.consume(orders, (m) => m && got.push(m.content.toString()), { noAck: true });
      ch.publish("by-first-word", "orders.us", Buffer.from("consumed"), { mandatory: true });
      await waitFor(() => got.length === 1);
      assert.deepEqual(got, ["consumed"]);
      await ch.unbindQueue(orders, "by-first-word", "orders");
      ch.publish("by-first-word", "orders.us", Buffer.from("unbound"), { mandatory: true });
      await ch.waitForConfirms();
      assert.deepEqual(returned.map((r) => r.content.toString()), ["ordersX.y", ".orders", "", "unbound"]);
      assert.deepEqual(got, ["consumed"]);
      await ch.close();
    } finally {
      for (const c of cleanups.reverse()) await c();
      const code = await warren.stop();
      await Deno.remove(tmp, { recursive: true });
      assert.equal(code, 0, "exit code after SIGTERM");
    }
  },
});

async function runToExit(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await command(args, false).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name: `plugin: a plugin path that does not load exits 1 with one stderr line naming it (${RUNTIME})`,
  ignore: isExternal,
  async fn() {
    // Both runs fail before the data directory is created.
    const dataDir = `${await Deno.makeTempDir({ prefix: "warren-plugin-test-" })}/data`;
    const missing = "tests/integration/fixtures/no_such_plugin.ts";
    const r = await runToExit(["--data-dir", dataDir, "--plugin", missing]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^warren: Cannot load plugin "tests\/integration\/fixtures\/no_such_plugin\.ts": \S.*\n$/,
    );
    assert.equal(r.stderr.split("\n").length, 2, `exactly one line: ${JSON.stringify(r.stderr)}`);

    // A module that loads but whose default export is not a plugin.
    const notPlugin = await runToExit(["--data-dir", dataDir, "--plugin", "plugins/api.ts"]);
    assert.equal(notPlugin.code, 1);
    assert.equal(
      notPlugin.stderr,
      'warren: Cannot load plugin "plugins/api.ts": its default export is not a plugin (name, stage, create)\n',
    );
    await Deno.remove(dataDir.slice(0, -"/data".length), { recursive: true });
  },
});
