/**
 * Resource monitor: the memory high watermark and the disk free limit, as RabbitMQ has them.
 *
 * Four times a second it measures the memory the JavaScript engine holds (heap in use plus memory
 * outside the heap: message bodies live there) and the free space of the data directory's
 * file system, and raises or clears the kernel's `memory` and `disk` alarms, which block and
 * unblock publishing connections.
 *
 * Garbage is not freed memory until a collection runs, and an idle broker whose publishers are
 * blocked allocates nothing that would trigger one. So over the watermark, before raising the
 * alarm and while it is raised, the monitor asks for a full collection when the runtime offers
 * one (`Bun.gc`, or `gc` under Deno with `--v8-flags=--expose-gc`, which `deno task start`
 * passes) and measures again.
 *
 * @module
 */

import fs from "node:fs";
import os from "node:os";
import process from "node:process";
import type { Broker } from "../core/mod.ts";

/** A limit in bytes, or a fraction of total RAM (memory only). */
export type SizeLimit = { bytes: number } | { fraction: number };

/** Options of {@link startResourceMonitor}. */
export interface ResourceOptions {
  /** Memory high watermark. @default { fraction: 0.4 } (RabbitMQ's default) */
  memoryHighWatermark?: SizeLimit;
  /** Disk free limit for the data directory. @default { bytes: 50_000_000 } (RabbitMQ's default) */
  diskFreeLimit?: SizeLimit;
  /** The directory whose file system is watched; none: no disk alarm. */
  dataDir?: string;
  /** How often to measure, ms. @default 250 */
  interval?: number;
}

/** What the monitor last measured, for the management API and logs. */
export interface ResourceReport {
  memoryUsed: number;
  memoryLimit: number;
  diskFree: number;
  diskFreeLimit: number;
}

/** Parses `0.4`, `512MiB`, `1GB`, `1073741824`: a fraction below 1, or a size with an optional unit. */
export function parseSize(text: string, allowFraction: boolean): SizeLimit {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(kib|mib|gib|tib|kb|mb|gb|tb|k|m|g|b)?\s*$/i.exec(text);
  if (!m) throw new RangeError(`Invalid size "${text}": expected e.g. 0.4, 512MiB, 2GB or a byte count`);
  const n = Number(m[1]);
  const unit = (m[2] ?? "").toLowerCase();
  if (unit === "" && n < 1 && allowFraction) return { fraction: n };
  if (unit === "" && !Number.isInteger(n)) {
    throw new RangeError(`Invalid size "${text}": a fraction of RAM must be below 1`);
  }
  const scale: Record<string, number> = {
    "": 1,
    b: 1,
    k: 1e3,
    kb: 1e3,
    m: 1e6,
    mb: 1e6,
    g: 1e9,
    gb: 1e9,
    tb: 1e12,
    kib: 2 ** 10,
    mib: 2 ** 20,
    gib: 2 ** 30,
    tib: 2 ** 40,
  };
  return { bytes: Math.round(n * scale[unit]) };
}

function toBytes(limit: SizeLimit): number {
  return "bytes" in limit ? limit.bytes : Math.floor(os.totalmem() * limit.fraction);
}

/** Memory held by the engine: heap in use plus external memory (ArrayBuffers: message bodies). */
export function memoryUsed(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** The process's resident memory (RSS), bytes: what the management API and /metrics report. */
export function residentMemory(): number {
  try {
    return process.memoryUsage().rss;
  } catch {
    return 0;
  }
}

/** A full garbage collection, when the runtime offers one; false otherwise. */
export function collectGarbage(): boolean {
  const g = globalThis as unknown as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (g.Bun) {
    g.Bun.gc(true);
    return true;
  }
  if (typeof g.gc === "function") {
    g.gc();
    return true;
  }
  return false;
}

/** Free bytes for unprivileged users on the file system holding `dir`; Infinity if unknown. */
function diskFree(dir: string): number {
  try {
    const s = fs.statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return Infinity;
  }
}

/** Starts measuring; returns a function that stops it and the last report. */
export function startResourceMonitor(
  broker: Broker,
  options: ResourceOptions = {},
): { stop(): void; report(): ResourceReport } {
  const memoryLimit = toBytes(options.memoryHighWatermark ?? { fraction: 0.4 });
  const diskLimit = toBytes(options.diskFreeLimit ?? { bytes: 50_000_000 });
  const report: ResourceReport = { memoryUsed: 0, memoryLimit, diskFree: Infinity, diskFreeLimit: diskLimit };
  const check = () => {
    let used = memoryUsed();
    if (used > memoryLimit && collectGarbage()) used = memoryUsed();
    report.memoryUsed = used;
    broker.setAlarm("memory", used > memoryLimit);
    if (options.dataDir !== undefined) {
      report.diskFree = diskFree(options.dataDir);
      // A store that failed to write (disk full, I/O error) keeps the alarm up until restart.
      broker.setAlarm("disk", report.diskFree < diskLimit || broker.store?.failed === true);
    }
  };
  check();
  const timer = setInterval(check, options.interval ?? 250);
  return {
    stop: () => clearInterval(timer),
    report: () => ({ ...report }),
  };
}
