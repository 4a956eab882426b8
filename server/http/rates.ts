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

import type { ChurnStats, MessageStats } from "../../core/mod.ts";

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

const windows = new WeakMap<object, Window>();
/** Depth windows: a separate map, as one object (a queue) may have both kinds. */
const depthWindows = new WeakMap<object, Window>();
/** Windows of other monotonic counters (a connection's bytes, the broker's churn). */
const counterWindows = new WeakMap<object, Window>();

function totals(stats: MessageStats): number[] {
  return STAT_FIELDS.map(([, f]) => stats[f]);
}

/**
 * The window of `key` in `map`, closed and reopened if it is at least {@link WINDOW_MS} old:
 * each value's change per second over the last completed window (0 until one completes).
 */
function windowRates(map: WeakMap<object, Window>, key: object, values: number[], now: number): number[] {
  let w = map.get(key);
  if (w === undefined) {
    w = { start: now, base: values, rates: values.map(() => 0) };
    map.set(key, w);
    return w.rates;
  }
  const elapsed = now - w.start;
  if (elapsed >= WINDOW_MS) {
    const base = w.base;
    w.rates = values.map((v, i) => Math.round(((v - base[i]) * 1000 / elapsed) * 10) / 10);
    w.base = values;
    w.start = now;
  }
  return w.rates;
}

/**
 * Rates per second of each counter in {@link STAT_FIELDS}, over the last completed window.
 * `key` is the object the window belongs to, when `stats` is a sum made for this read (a vhost's).
 */
export function ratesOf(stats: MessageStats, now: number, key: object = stats): number[] {
  const w = windows.get(key);
  // Totals are read only when a window opens or closes, not on every read.
  if (w !== undefined && now - w.start < WINDOW_MS) return w.rates;
  return windowRates(windows, key, totals(stats), now);
}

/**
 * Rates per second of some monotonic counters of `key` (a connection's bytes, the broker's
 * churn) over the last completed window; `values` is called only when a window opens or closes.
 */
export function counterRates(key: object, values: () => number[], now: number): readonly number[] {
  const w = counterWindows.get(key);
  if (w !== undefined && now - w.start < WINDOW_MS) return w.rates;
  return windowRates(counterWindows, key, values(), now);
}

/**
 * The rates of change of `messages`, `messages_ready` and `messages_unacknowledged` for `key`
 * (see {@link depthStats}), without building the fields: for sorting a list by them.
 */
export function depthRates(key: object, ready: number, unacked: number, now: number): readonly number[] {
  const w = depthWindows.get(key);
  if (w !== undefined && now - w.start < WINDOW_MS) return w.rates;
  return windowRates(depthWindows, key, [ready + unacked, ready, unacked], now);
}

/** The overview's `churn_rates` counters, in RabbitMQ's names, with the field each one reads. */
export const CHURN_FIELDS: readonly (readonly [string, keyof ChurnStats])[] = [
  ["channel_closed", "channelClosed"],
  ["channel_created", "channelCreated"],
  ["connection_closed", "connectionClosed"],
  ["connection_created", "connectionCreated"],
  ["queue_created", "queueCreated"],
  ["queue_declared", "queueDeclared"],
  ["queue_deleted", "queueDeleted"],
];

/**
 * RabbitMQ's `churn_rates` object of `/api/overview`: each total with its
 * `<name>_details: {rate}`, the increase per second over the last completed window.
 */
export function churnRates(churn: ChurnStats, now: number): Record<string, unknown> {
  const rates = counterRates(churn, () => CHURN_FIELDS.map(([, f]) => churn[f]), now);
  const out: Record<string, unknown> = {};
  CHURN_FIELDS.forEach(([name, field], i) => {
    out[name] = churn[field];
    out[`${name}_details`] = { rate: rates[i] };
  });
  return out;
}

/** RabbitMQ's depth fields, with their rates. */
export interface DepthStats {
  messages: number;
  messages_details: { rate: number };
  messages_ready: number;
  messages_ready_details: { rate: number };
  messages_unacknowledged: number;
  messages_unacknowledged_details: { rate: number };
}

/**
 * RabbitMQ's depth fields of a queue, a vhost or the overview's `queue_totals`: `messages`,
 * `messages_ready` and `messages_unacknowledged`, each with `<name>_details: {rate}`, the
 * change per second over the last completed window (negative when the depth falls). `key` is
 * the object the window belongs to (a queue, a vhost, a set of vhosts): one small record each,
 * gone with its object.
 */
export function depthStats(key: object, ready: number, unacked: number, now: number): DepthStats {
  const total = ready + unacked;
  const rates = depthRates(key, ready, unacked, now);
  return {
    messages: total,
    messages_details: { rate: rates[0] },
    messages_ready: ready,
    messages_ready_details: { rate: rates[1] },
    messages_unacknowledged: unacked,
    messages_unacknowledged_details: { rate: rates[2] },
  };
}

/**
 * RabbitMQ's `message_stats` object: each counter with its `<name>_details: {rate}`, plus
 * `deliver_get` (deliver + deliver_no_ack + get + get_no_ack) as RabbitMQ sums it. `key` owns
 * the rate window when `stats` is a sum made for this read.
 */
export function messageStats(stats: MessageStats, now: number, key: object = stats): Record<string, unknown> {
  const rates = ratesOf(stats, now, key);
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
