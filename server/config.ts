/**
 * Command-line flags and the config file, merged into `BrokerOptions` plus server settings.
 *
 * Flags win over the config file; the config file wins over defaults. Every bad value is a
 * `TypeError`/`RangeError`/`SyntaxError` whose message names the flag and the value.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { LOG_LEVELS, type LogLevel } from "./log.ts";
import type { BrokerOptions } from "./mod.ts";
import { parseSize } from "./resources.ts";

/** Everything `server/main.ts` needs to start. */
export interface ServerSettings extends BrokerOptions {
  port: number;
  host: string;
  /** Where durable state will live. @default "./data" */
  dataDir: string;
  /** Port reserved for the HTTP management API. @default 15672 */
  httpPort: number;
  logLevel: LogLevel;
  /** Plugin modules to load (paths or URLs). */
  pluginPaths: string[];
}

/** `--help` text. */
export const USAGE = `Warren — an AMQP 0-9-1 message broker

Usage: deno task start [options]        (or: bun run server/main.ts [options])

Options:
  --port N            AMQP port (default 5672; 0 picks a free port)
  --host ADDR         address to listen on (default 0.0.0.0)
  --data-dir DIR      directory for durable state (default ./data)
  --sync MODE         always: confirm persistent messages once fsynced (default);
                      none: once written to the OS (survives a crash, not a power cut)
  --memory-high-watermark SIZE
                      block publishers above this memory use: a fraction of RAM (default
                      0.4) or a size (512MiB, 2GB)
  --disk-free-limit SIZE
                      block publishers when the data dir's disk has less free (default 50MB)
  --http-port N       port reserved for the HTTP management API (default 15672)
  --log-level LEVEL   debug | info | warn | error | none (default info)
  --heartbeat S       heartbeat interval offered to clients, seconds (default 60; 0 disables)
  --frame-max N       largest frame accepted, bytes, 4096..1048576 (default 131072)
  --channel-max N     highest channel number, 1..65535 (default 2047)
  --config FILE       JSON config file; flags override it
  --user NAME:PASSWORD[:TAG,TAG]
                      create a user with full permissions on "/" (repeatable); a password
                      containing ':' needs the tags part, even empty: bob:pa:ss:
  --no-guest          do not create the default guest/guest user
  -h, --help          show this help

Config file keys: port, host, dataDir, sync, memoryHighWatermark, diskFreeLimit, httpPort, logLevel, heartbeat, frameMax, channelMax,
handshakeTimeout (ms), maxMessageSize (bytes), users ([{ "name", "password", "tags" }]),
guest (false: no guest user).
`;

const DEFAULTS: ServerSettings = {
  port: 5672,
  host: "0.0.0.0",
  dataDir: "./data",
  httpPort: 15672,
  logLevel: "info",
  pluginPaths: [],
};

function int(name: string, raw: unknown, min: number, max: number): number {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(`Invalid ${name} "${raw}": expected an integer from ${min} to ${max}`);
  }
  return n;
}

function level(raw: unknown): LogLevel {
  if (!LOG_LEVELS.includes(raw as LogLevel)) {
    throw new RangeError(`Invalid log level "${raw}": expected one of ${LOG_LEVELS.join(", ")}`);
  }
  return raw as LogLevel;
}

/**
 * `--user name:password[:tag,tag]`. The password is everything between the first colon and the
 * last one (when there are two or more), so a password with colons needs the tags part. Errors
 * name the user, never the password.
 */
function userFlag(raw: string): { name: string; password: string; tags: string[] } {
  const first = raw.indexOf(":");
  if (first <= 0) throw new TypeError(`Invalid --user: expected NAME:PASSWORD[:TAG,TAG]`);
  const name = raw.slice(0, first);
  let password = raw.slice(first + 1);
  let tags: string[] = [];
  const last = password.lastIndexOf(":");
  if (last >= 0) {
    tags = password.slice(last + 1).split(",").map((t) => t.trim()).filter((t) => t !== "");
    password = password.slice(0, last);
  }
  if (password === "") throw new TypeError(`Invalid --user "${name}": empty password`);
  return { name, password, tags };
}

/**
 * Parses argv (without the program name) into settings, or `"help"` for `--help`.
 * @param argv command-line arguments
 * @param readFile reads the config file (injected for tests)
 */
export function parseSettings(
  argv: string[],
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): ServerSettings | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "data-dir": { type: "string" },
        sync: { type: "string" },
        "memory-high-watermark": { type: "string" },
        "disk-free-limit": { type: "string" },
        "http-port": { type: "string" },
        "log-level": { type: "string" },
        heartbeat: { type: "string" },
        "frame-max": { type: "string" },
        "channel-max": { type: "string" },
        config: { type: "string" },
        plugin: { type: "string", multiple: true },
        user: { type: "string", multiple: true },
        "no-guest": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new TypeError(`Cannot parse command line: ${(err as Error).message}`);
  }
  const f = parsed.values;
  if (f.help) return "help";

  let file: Record<string, unknown> = {};
  if (f.config !== undefined) {
    let text: string;
    try {
      text = readFile(f.config);
    } catch (err) {
      throw new TypeError(`Cannot read config "${f.config}": ${(err as Error).message}`);
    }
    try {
      file = JSON.parse(text);
    } catch (err) {
      throw new SyntaxError(`Cannot parse config "${f.config}": ${(err as Error).message}`);
    }
    if (typeof file !== "object" || file === null || Array.isArray(file)) {
      throw new SyntaxError(`Cannot parse config "${f.config}": expected a JSON object`);
    }
    const known = new Set([
      "port",
      "host",
      "dataDir",
      "sync",
      "memoryHighWatermark",
      "diskFreeLimit",
      "httpPort",
      "logLevel",
      "heartbeat",
      "frameMax",
      "channelMax",
      "handshakeTimeout",
      "maxMessageSize",
      "users",
      "guest",
      "plugins",
    ]);
    for (const k of Object.keys(file)) {
      if (!known.has(k)) throw new SyntaxError(`Cannot parse config "${f.config}": unknown key "${k}"`);
    }
  }
  const pick = (flag: string | undefined, key: string) => flag ?? file[key];
  const s: ServerSettings = { ...DEFAULTS };
  const port = pick(f.port, "port");
  if (port !== undefined) s.port = int("port", port, 0, 65535);
  const host = pick(f.host, "host");
  if (host !== undefined) {
    if (typeof host !== "string" || host === "") throw new TypeError(`Invalid host "${host}"`);
    s.host = host;
  }
  const dataDir = pick(f["data-dir"], "dataDir");
  if (dataDir !== undefined) {
    if (typeof dataDir !== "string" || dataDir === "") throw new TypeError(`Invalid data dir "${dataDir}"`);
    s.dataDir = dataDir;
  }
  const sync = pick(f.sync, "sync");
  if (sync !== undefined) {
    if (sync !== "always" && sync !== "none") {
      throw new RangeError(`Invalid sync "${sync}": expected always or none`);
    }
    s.sync = sync;
  }
  const watermark = pick(f["memory-high-watermark"], "memoryHighWatermark");
  if (watermark !== undefined) s.memoryHighWatermark = parseSize(String(watermark), true);
  const diskLimit = pick(f["disk-free-limit"], "diskFreeLimit");
  if (diskLimit !== undefined) s.diskFreeLimit = parseSize(String(diskLimit), false);
  const httpPort = pick(f["http-port"], "httpPort");
  if (httpPort !== undefined) s.httpPort = int("http port", httpPort, 0, 65535);
  const logLevel = pick(f["log-level"], "logLevel");
  if (logLevel !== undefined) s.logLevel = level(logLevel);
  const heartbeat = pick(f.heartbeat, "heartbeat");
  if (heartbeat !== undefined) s.heartbeat = int("heartbeat", heartbeat, 0, 65535);
  const frameMax = pick(f["frame-max"], "frameMax");
  if (frameMax !== undefined) s.frameMax = int("frame max", frameMax, 4096, 1048576);
  const channelMax = pick(f["channel-max"], "channelMax");
  if (channelMax !== undefined) s.channelMax = int("channel max", channelMax, 1, 65535);
  if (file.handshakeTimeout !== undefined) {
    s.handshakeTimeout = int("handshakeTimeout", file.handshakeTimeout, 100, 3_600_000);
  }
  if (file.maxMessageSize !== undefined) {
    s.maxMessageSize = int("maxMessageSize", file.maxMessageSize, 1, 536_870_912);
  }
  if (file.users !== undefined) {
    if (!Array.isArray(file.users)) throw new SyntaxError(`Invalid users in config: expected an array`);
    s.users = file.users.map((u, i) => {
      if (typeof u?.name !== "string" || typeof u?.password !== "string") {
        throw new SyntaxError(
          `Invalid users[${i}] in config: expected { "name": string, "password": string }`,
        );
      }
      return { name: u.name, password: u.password, tags: Array.isArray(u.tags) ? u.tags.map(String) : [] };
    });
  }
  if (f.user !== undefined) s.users = [...(s.users ?? []), ...f.user.map(userFlag)];
  if (file.guest !== undefined && typeof file.guest !== "boolean") {
    throw new SyntaxError(`Invalid guest "${file.guest}" in config: expected true or false`);
  }
  if (f["no-guest"]) s.guest = false;
  else if (file.guest !== undefined) s.guest = file.guest as boolean;
  const plugins = [...(Array.isArray(file.plugins) ? file.plugins.map(String) : []), ...(f.plugin ?? [])];
  s.pluginPaths = plugins;
  return s;
}
