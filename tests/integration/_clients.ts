// Client-side helpers: connections that are always closed, and exact AMQP close reasons.

import { AMQPClient, amqplib } from "./_deps.ts";
import type { AmqplibConnection, Channel } from "./_deps.ts";
import type { TestCtx } from "./_broker.ts";
import { waitFor } from "./_broker.ts";

export interface CloseReason {
  code: number;
  text: string;
}

/**
 * Extracts reply-code and reply-text from an error raised by amqplib
 * (`... 404 (NOT-FOUND) with message "NOT_FOUND - ..."`) or by @cloudamqp/amqp-client
 * (`channel 1 closed: NOT_FOUND - ... (404)`).
 */
export function closeReason(e: unknown): CloseReason {
  const msg = e instanceof Error ? e.message : String(e);
  let m = msg.match(/(\d{3}) \([A-Z-]+\) with message "(.*)"$/s);
  if (m) return { code: Number(m[1]), text: m[2] };
  m = msg.match(/closed: (.*) \((\d{3})\)$/s);
  if (m) return { code: Number(m[2]), text: m[1] };
  throw new Error(`not an AMQP close error: ${msg}`);
}

/** Opens an amqplib connection that the test closes automatically. */
export async function amqplibConnect(
  ctx: TestCtx,
  opts: { heartbeat?: number; frameMax?: number } = {},
): Promise<AmqplibConnection> {
  const u = new URL(ctx.url);
  if (opts.heartbeat !== undefined) u.searchParams.set("heartbeat", String(opts.heartbeat));
  if (opts.frameMax !== undefined) u.searchParams.set("frameMax", String(opts.frameMax));
  const conn = await amqplib.connect(u.toString());
  // A connection-level error would otherwise be rethrown as an uncaught exception; tests that care
  // observe it through the 'close' event or failing operations.
  conn.on("error", () => {});
  let closed = false;
  conn.on("close", () => (closed = true));
  ctx.defer(async () => {
    if (closed) return;
    const closing = conn.close().then(
      () => "ok" as const,
      (e: unknown) => {
        // "Connection closed" / "Connection closing": it went away on its own meanwhile.
        if (e instanceof Error && /closed|closing/i.test(e.message)) return "ok" as const;
        throw e;
      },
    );
    if (await withTimeout(closing, CLOSE_TIMEOUT_MS) === "timeout") {
      // Don't let a broker that never answers connection.close hang the run: drop the socket.
      closing.catch(() => {});
      (conn as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      throw new Error(`amqplib: no connection.close-ok within ${CLOSE_TIMEOUT_MS} ms (socket destroyed)`);
    }
  });
  return conn;
}

/** Opens an @cloudamqp/amqp-client connection that the test closes automatically. */
export async function cloudConnect(ctx: TestCtx): Promise<AMQPClient> {
  const client = new AMQPClient(ctx.url);
  await client.connect();
  ctx.defer(async () => {
    if (client.closed) return;
    const closing = client.close().then(() => "ok" as const);
    if (await withTimeout(closing, CLOSE_TIMEOUT_MS) === "timeout") {
      closing.catch(() => {});
      (client as unknown as { socket?: { destroy(): void } }).socket?.destroy();
      throw new Error(`amqp-client: no connection.close-ok within ${CLOSE_TIMEOUT_MS} ms (socket destroyed)`);
    }
  });
  return client;
}

const CLOSE_TIMEOUT_MS = 5000;

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A channel whose server-initiated close is recorded instead of crashing the test process. */
export interface WatchedChannel {
  ch: Channel;
  /** Set once the server closed the channel (from amqplib's 'error' event). */
  closedBy(): CloseReason | undefined;
  /** Waits (bounded) for the server to close the channel and returns why. */
  waitClosed(timeout?: number): Promise<CloseReason>;
}

export async function watchedChannel(conn: AmqplibConnection): Promise<WatchedChannel> {
  const ch = await conn.createChannel();
  let reason: CloseReason | undefined;
  ch.on("error", (e: unknown) => (reason = closeReason(e)));
  return {
    ch,
    closedBy: () => reason,
    async waitClosed(timeout = 5000) {
      await waitFor(() => reason !== undefined, { timeout, message: "server did not close the channel" });
      return reason!;
    },
  };
}

/**
 * Runs an operation that the server must answer with channel.close, and returns the close reason,
 * checking that the failed operation and the channel's close agree.
 */
export async function expectChannelClose(
  conn: AmqplibConnection,
  op: (ch: Channel) => Promise<unknown>,
): Promise<CloseReason> {
  const w = await watchedChannel(conn);
  let rejected: unknown;
  try {
    await op(w.ch);
  } catch (e) {
    rejected = e;
  }
  const reason = await w.waitClosed();
  if (rejected !== undefined && rejected instanceof Error && rejected.message) {
    const r = closeReason(rejected);
    if (r.code !== reason.code || r.text !== reason.text) {
      throw new Error(
        `operation failed with ${r.code} ${r.text} but channel closed with ${reason.code} ${reason.text}`,
      );
    }
  }
  return reason;
}

export function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
