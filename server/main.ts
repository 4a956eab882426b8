/**
 * `deno task start` / `bun run server/main.ts`: parse flags and config, start the broker,
 * stop gracefully on SIGINT/SIGTERM.
 *
 * Prints `Warren listening on amqp://HOST:PORT` on stdout once connections are accepted
 * (scripts and tests wait for that line). Exits 1 with a one-line reason on bad flags or a
 * port that cannot be bound; 0 after a graceful stop.
 *
 * @module
 */

import { mkdirSync } from "node:fs";
import { resolve, toFileUrl } from "./_path.ts";
import process from "node:process";
import type { RouterPlugin } from "../core/mod.ts";
import { parseSettings, USAGE } from "./config.ts";
import { createBroker } from "./mod.ts";

function fail(message: string): never {
  process.stderr.write(`warren: ${message}\n`);
  process.exit(1);
}

/** Loads a plugin module; its default export is a plugin or a list of plugins. */
async function loadPlugin(path: string): Promise<RouterPlugin[]> {
  const url = /^[a-z]+:/i.test(path) ? path : toFileUrl(resolve(path));
  let mod: { default?: unknown };
  try {
    mod = await import(url);
  } catch (err) {
    throw new Error(`Cannot load plugin "${path}": ${(err as Error).message}`);
  }
  const list = Array.isArray(mod.default) ? mod.default : [mod.default];
  for (const p of list) {
    const ok = p && typeof p === "object" && typeof (p as RouterPlugin).name === "string" &&
      ["exchange", "unroutable", "dead-letter", "queue"].includes((p as RouterPlugin).stage) &&
      typeof (p as RouterPlugin).create === "function";
    if (!ok) {
      throw new Error(
        `Cannot load plugin "${path}": its default export is not a plugin (name, stage, create)`,
      );
    }
  }
  return list as RouterPlugin[];
}

async function main(): Promise<void> {
  let settings;
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (err) {
    fail(`${(err as Error).message} (see --help)`);
  }
  if (settings === "help") {
    process.stdout.write(USAGE);
    return;
  }
  const plugins: RouterPlugin[] = [];
  try {
    for (const p of settings.pluginPaths) plugins.push(...await loadPlugin(p));
  } catch (err) {
    fail((err as Error).message);
  }
  try {
    mkdirSync(settings.dataDir, { recursive: true });
  } catch (err) {
    fail(`Cannot create data dir "${settings.dataDir}": ${(err as Error).message}`);
  }
  let running;
  try {
    running = await createBroker({ ...settings, plugins });
  } catch (err) {
    fail((err as Error).message);
  }
  const shownHost = running.host.includes(":") ? `[${running.host}]` : running.host;
  process.stdout.write(`Warren listening on amqp://${shownHost}:${running.port}\n`);
  if (running.httpPort !== null) {
    process.stdout.write(`Warren management API on http://${shownHost}:${running.httpPort}\n`);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

await main();
