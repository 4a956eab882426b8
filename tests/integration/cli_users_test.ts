// Locking a fresh install down from the command line: `--user NAME:PASSWORD[:TAGS]` creates users
// with full permissions on "/", `--no-guest` drops guest/guest; passwords never reach the logs.

import assert from "node:assert/strict";
import { isExternal, repoRoot } from "./_broker.ts";
import { closeReason } from "./_clients.ts";
import { amqplib } from "./_deps.ts";

const RUNTIME = Deno.env.get("WARREN_TEST_RUNTIME") === "bun" ? "bun" : "deno";
const PASSWORD = "Zx9-very-secret-Qq";

Deno.test({
  name: "main.ts --user and --no-guest: only the given users log in, and no log line shows a password",
  ignore: isExternal,
  fn: async () => {
    const dataDir = await Deno.makeTempDir();
    const runtimeArgs = RUNTIME === "bun" ? ["run", "server/main.ts"] : ["run", "-A", "server/main.ts"];
    const child = new Deno.Command(RUNTIME, {
      args: [
        ...runtimeArgs,
        ...["--port", "0", "--host", "127.0.0.1", "--http-port", "0", "--data-dir", dataDir],
        ...["--log-level", "debug", "--no-guest", "--user", `ops:${PASSWORD}:administrator`],
      ],
      cwd: repoRoot,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    let port = 0;
    try {
      while (port === 0) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
        port = Number(out.match(/Warren listening on amqp:\/\/127\.0\.0\.1:(\d+)\n/)?.[1] ?? 0);
      }
      assert.ok(port > 0, `announced: ${JSON.stringify(out)}`);
      const ops = await amqplib.connect(`amqp://ops:${PASSWORD}@127.0.0.1:${port}/`);
      const ch = await ops.createChannel();
      await ch.assertQueue("ops-queue", { exclusive: true });
      await ops.close();
      for (const url of [`amqp://guest:guest@127.0.0.1:${port}/`, `amqp://ops:wrong@127.0.0.1:${port}/`]) {
        const err = await amqplib.connect(url).then((c) => c.close(), (e: unknown) => e);
        assert.equal(closeReason(err).code, 403, url);
      }
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel().catch(() => {});
    }
    const logs = out + await stderr;
    await Deno.remove(dataDir, { recursive: true });
    assert.match(logs, /login refused/);
    assert.ok(!logs.includes(PASSWORD), "a password appears in the logs");
  },
});
