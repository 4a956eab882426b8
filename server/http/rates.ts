/**
 * Message rates from the kernel's monotonic counters, in fixed windows.
 *
 * Each counter object (the broker's, a queue's) gets one small window record, held in a
 * WeakMap so it goes with its object: the totals at the window's start and the rates measured
 * over the last completed window. A window closes when it is read at least `WINDOW_MS` after it
 * opened; the rate is the increase over that window divided by its length. No history is kept,
 * whatever the number of objects or the uptime.
 *
 * @module
 */

import type { MessageStats } from "../../core/mod.ts";

/** Length of a rate window, ms (RabbitMQ's default sample interval is 5 s). */
export const WINDOW_MS = 5000;

/** The counters, in RabbitMQ's `message_stats` names, with the field each one reads. */
export const STAT_FIELDS: readonly (readonly [string, keyof MessageStats])[] = [
  ["publish", "publish"],
  ["deliver", "deliver"],
  ["deliver_no_ack", "deliverNoAck"],
  ["get", "get"],
  ["get_no_ack", "getNoAck"],
  ["get_empty", "getEmpty"],
  ["ack", "ack"],
  ["redeliver", "redeliver"],
  ["return_unroutable", "returnUnroutable"],
  ["drop_unroutable", "dropUnroutable"],
  ["confirm", "confirm"],
];

interface Window {
  start: number;
  base: number[];
  rates: number[];
}

const windows = new WeakMap<MessageStats, Window>();

function totals(stats: MessageStats): number[] {
  return STAT_FIELDS.map(([, f]) => stats[f]);
}

/** Rates per second of each counter in {@link STAT_FIELDS}, over the last completed window. */
export function ratesOf(stats: MessageStats, now: number): number[] {
  let w = windows.get(stats);
  if (w === undefined) {
    w = { start: now, base: totals(stats), rates: STAT_FIELDS.map(() => 0) };
    windows.set(stats, w);
    return w.rates;
  }
  const elapsed = now - w.start;
  if (elapsed >= WINDOW_MS) {
    const t = totals(stats);
    w.rates = t.map((v, i) => Math.round(((v - w!.base[i]) * 1000 / elapsed) * 10) / 10);
    w.base = t;
    w.start = now;
  }
  return w.rates;
}

/**
 * RabbitMQ's `message_stats` object: each counter with its `<name>_details: {rate}`, plus
 * `deliver_get` (deliver + deliver_no_ack + get + get_no_ack) as RabbitMQ sums it.
 */
export function messageStats(stats: MessageStats, now: number): Record<string, unknown> {
  const rates = ratesOf(stats, now);
  const out: Record<string, unknown> = {};
  STAT_FIELDS.forEach(([name, field], i) => {
    out[name] = stats[field];
    out[`${name}_details`] = { rate: rates[i] };
  });
  const sum = (names: string[]) => names.reduce((s, n) => s + (out[n] as number), 0);
  const sumRate = (names: string[]) =>
    names.reduce((s, n) => s + (out[`${n}_details`] as { rate: number }).rate, 0);
  const dg = ["deliver", "deliver_no_ack", "get", "get_no_ack"];
  out.deliver_get = sum(dg);
  out.deliver_get_details = { rate: Math.round(sumRate(dg) * 10) / 10 };
  return out;
}
