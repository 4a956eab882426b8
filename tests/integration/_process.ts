// Starts Warren as a child process on a data directory the test owns, so that it can be stopped any
// way at all (SIGTERM for a clean stop, SIGKILL for a crash) and started again on the same files.
//
//   deno run -A server/main.ts ...   (default, or WARREN_TEST_RUNTIME=deno)
//   bun run server/main.ts ...       (WARREN_TEST_RUNTIME=bun)
//
// Tests built on it cannot run against an external broker (WARREN_TEST_URL): `restartIgnored`
// says so. The child gets `--port 0 --host 127.0.0.1 --http-port 0 --data-dir DIR` and whatever
// else the test passes; it is ready once it prints `Warren listening on amqp://HOST:PORT`.

/** The repository's root directory (the child runs there). */
export const repoRoot: string = new URL("../../", import.meta.url).pathname;

/** A Warren child process. */
export interface WarrenProcess {
  /** amqp://guest:guest@127.0.0.1:PORT/ */
  readonly url: string;
  readonly port: number;
  /** The management API's port (the child is started with --http-port 0). */
  readonly httpPort: number;
  /** The child's process id (for reading its memory from /proc). */
  readonly pid: number;
  /** Sends a signal: SIGKILL for a crash, SIGTERM for a clean stop. A no-op once it exited. */
  kill(signal: Deno.Signal): void;
  /** Settles when the child has exited and its output is fully read. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Everything the child wrote to stderr so far (its log lines). */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `timeout` ms; resolves with whether SIGTERM was enough. */
  stop(timeout?: number): Promise<boolean>;
  /** SIGKILL and wait for the exit. */
  crash(): Promise<void>;
}

/** Options of {@link spawnWarren}. */
export interface SpawnOptions {
  /** Extra command-line arguments (`--sync none`, ...). */
  args?: string[];
  /** @default "info" (store recovery lines are logged at info/warn/error) */
  logLevel?: string;
  /** @default 20000 */
  startupTimeout?: number;
  /** Runtime to run the broker under. @default WARREN_TEST_RUNTIME, else "deno" */
  runtime?: "deno" | "bun";
}

const EXTERNAL = Deno.env.get("WARREN_TEST_URL");

/** Set (with the reason) when restart tests cannot run: the broker under test is not ours. */
export const restartIgnored: string | undefined = EXTERNAL
  ? "needs to stop and restart the broker; WARREN_TEST_URL broker is not ours"
  : undefined;

/** The runtime the broker child runs under. */
export const runtime: "deno" | "bun" = Deno.env.get("WARREN_TEST_RUNTIME") === "bun" ? "bun" : "deno";

/**
 * Starts Warren on `dataDir` and waits for its listening line. Throws (after killing the child)
 * when it exits or stays silent past the startup timeout, with its output in the message.
 */
export async function spawnWarren(dataDir: string, options: SpawnOptions = {}): Promise<WarrenProcess> {
  const rt = options.runtime ?? runtime;
  const args = rt === "deno"
    ? ["run", "-A", "--v8-flags=--expose-gc", "server/main.ts"]
    : ["run", "server/main.ts"];
  args.push(
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--http-port",
    "0",
    "--log-level",
    options.logLevel ?? "info",
    "--data-dir",
    dataDir,
    ...(options.args ?? []),
  );
  const child = new Deno.Command(rt === "deno" ? Deno.execPath() : "bun", {
    args,
    cwd: repoRoot,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let stderrText = "";
  const stderrDone = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) stderrText += dec.decode(chunk, { stream: true });
  })();
  // stdout: read until both listening lines (AMQP, then the management API), then keep draining
  // so the child never blocks on a pipe.
  let stdoutText = "";
  let resolvePorts!: (p: { amqp: number; http: number }) => void;
  const portsFound = new Promise<{ amqp: number; http: number }>((r) => (resolvePorts = r));
  const stdoutDone = (async () => {
    const dec = new TextDecoder();
    let found = false;
    for await (const chunk of child.stdout) {
      stdoutText += dec.decode(chunk, { stream: true });
      if (!found) {
        const amqp = stdoutText.match(/Warren listening on amqp:\/\/[^:\s]+:(\d+)/);
        const http = stdoutText.match(/Warren management API on http:\/\/\S+:(\d+)/);
        if (amqp && http) {
          found = true;
          resolvePorts({ amqp: Number(amqp[1]), http: Number(http[1]) });
        }
      }
    }
  })();
  const exited = (async () => {
    const status = await child.status;
    await Promise.all([stdoutDone, stderrDone]);
    return status;
  })();
  let done = false;
  exited.then(() => (done = true));

  const kill = (signal: Deno.Signal) => {
    if (done) return;
    try {
      child.kill(signal);
    } catch {
      // exited meanwhile
    }
  };

  const startupTimeout = options.startupTimeout ?? 20_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    portsFound.then((ports) => ({ kind: "port" as const, ports })),
    exited.then((s) => ({ kind: "exited" as const, code: s.code })),
    new Promise<{ kind: "timeout" }>((
      r,
    ) => (timer = setTimeout(() => r({ kind: "timeout" }), startupTimeout))),
  ]);
  clearTimeout(timer);
  if (outcome.kind !== "port") {
    kill("SIGKILL");
    await exited;
    throw new Error(
      `${rt} server/main.ts ${
        outcome.kind === "exited" ? `exited with code ${outcome.code}` : "did not print its listening line"
      } within ${startupTimeout} ms\n--- stdout ---\n${stdoutText}\n--- stderr ---\n${stderrText}`,
    );
  }
  const port = outcome.ports.amqp;
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}/`,
    port,
    httpPort: outcome.ports.http,
    pid: child.pid,
    kill,
    exited,
    stderr: () => stderrText,
    async stop(timeout = 10_000) {
      kill("SIGTERM");
      let t: ReturnType<typeof setTimeout> | undefined;
      const clean = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((r) => (t = setTimeout(() => r(false), timeout))),
      ]);
      clearTimeout(t);
      if (!clean) kill("SIGKILL");
      await exited;
      return clean;
    },
    async crash() {
      kill("SIGKILL");
      await exited;
    },
  };
}

/** A fresh temporary directory; `cleanup` removes it. */
export async function tempDataDir(
  prefix = "warren-durable-",
): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix });
  return { dir, cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}) };
}
