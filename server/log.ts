/**
 * Logging for the server: one line per event on stderr, `time level message key=value…`.
 *
 * @module
 */

import type { Logger } from "../core/mod.ts";

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "none"] as const;
/** A log level name. */
export type LogLevel = typeof LOG_LEVELS[number];

function format(level: string, msg: string, fields?: Record<string, unknown>): string {
  let line = `${new Date().toISOString()} ${level.padEnd(5)} ${msg}`;
  if (fields) {
    for (const k in fields) {
      const v = fields[k];
      if (v === undefined) continue;
      line += ` ${k}=${typeof v === "string" && !/[\s"]/.test(v) ? v : JSON.stringify(v)}`;
    }
  }
  return line + "\n";
}

/**
 * Creates a logger writing to `write` (stderr by default) at or above `level`.
 * @param level the lowest level written @default "info"
 * @param write where lines go
 */
export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => {
    // deno-lint-ignore no-console
    console.error(line.trimEnd());
  },
): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const at = (l: LogLevel) => LOG_LEVELS.indexOf(l) >= min;
  return {
    debug: (m, f) => at("debug") && write(format("debug", m, f)),
    info: (m, f) => at("info") && write(format("info", m, f)),
    warn: (m, f) => at("warn") && write(format("warn", m, f)),
    error: (m, f) => at("error") && write(format("error", m, f)),
  } as Logger;
}
