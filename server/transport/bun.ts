/**
 * TCP transport for Bun (`Bun.listen`).
 *
 * Owns, per socket: partial writes (Bun's `write` returns how many bytes the kernel took; the
 * rest is kept and resumed on `drain`), the high/low water marks that tell the kernel to stop
 * and resume deliveries, and pausing reads for flow control. Handlers are defined once per
 * listener, not per socket.
 *
 * @module
 */

import type { Broker, Connection, Transport } from "../../core/mod.ts";
import { HIGH_WATER_MARK, type Listen, type Listener, LOW_WATER_MARK } from "./types.ts";

/** The parts of Bun's socket API used here (Bun's own types are not available under Deno). */
interface BunSocket {
  data: BunTransport;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  write(data: Uint8Array): number;
  end(): void;
  setNoDelay?(on: boolean): void;
  pause?(): void;
  resume?(): void;
}
interface BunListener {
  readonly port: number;
  readonly hostname: string;
  stop(closeActive?: boolean): void;
}
interface BunApi {
  listen(options: {
    hostname: string;
    port: number;
    socket: {
      open(s: BunSocket): void;
      data(s: BunSocket, chunk: Uint8Array): void;
      drain(s: BunSocket): void;
      close(s: BunSocket): void;
      error(s: BunSocket, err: Error): void;
    };
  }): BunListener;
}

class BunTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  connection!: Connection;
  readonly #socket: BunSocket;
  readonly #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #congested = false;
  #closing = false;
  #closed = false;

  constructor(socket: BunSocket) {
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort ?? 0;
    socket.setNoDelay?.(true);
  }

  write(data: Uint8Array): boolean {
    if (this.#closed) return true;
    if (this.#pending.length === 0) {
      const n = this.#socket.write(data);
      if (n >= data.length) return true;
      data = data.subarray(Math.max(n, 0));
    }
    this.#pending.push(data);
    this.#pendingBytes += data.length;
    if (this.#pendingBytes > HIGH_WATER_MARK) this.#congested = true;
    return !this.#congested;
  }

  /** The socket can take more: write what is pending. */
  onWritable(): void {
    while (this.#pending.length > 0) {
      const head = this.#pending[0];
      const n = this.#socket.write(head);
      if (n <= 0) return;
      this.#pendingBytes -= n;
      if (n < head.length) {
        this.#pending[0] = head.subarray(n);
        return;
      }
      this.#pending.shift();
    }
    if (this.#closing) this.#end();
    if (this.#congested && this.#pendingBytes < LOW_WATER_MARK) {
      this.#congested = false;
      this.connection.onDrain();
    }
  }

  close(): void {
    this.#closing = true;
    if (this.#pending.length === 0) this.#end();
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.end();
  }

  pauseReading(): void {
    this.#socket.pause?.();
  }

  resumeReading(): void {
    this.#socket.resume?.();
  }

  onSocketClosed(): void {
    this.#closed = true;
    this.connection.onClosed();
  }
}

/** Listens with `Bun.listen`. */
export const listenBun: Listen = (broker: Broker, { host, port }) => {
  const bun = (globalThis as unknown as { Bun: BunApi }).Bun;
  const sockets = new Set<BunSocket>();
  let server: BunListener;
  try {
    server = bun.listen({
      hostname: host,
      port,
      socket: {
        open(s) {
          const t = new BunTransport(s);
          s.data = t;
          sockets.add(s);
          t.connection = broker.connect(t);
        },
        data(s, chunk) {
          s.data.connection.receive(chunk);
        },
        drain(s) {
          s.data.onWritable();
        },
        close(s) {
          sockets.delete(s);
          s.data?.onSocketClosed();
        },
        error(s) {
          sockets.delete(s);
          s.data?.onSocketClosed();
        },
      },
    });
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    const reason = /in use|EADDRINUSE/i.test(msg) ? "address already in use" : msg;
    throw new Error(`Cannot listen on ${host}:${port}: ${reason}`);
  }
  const result: Listener = {
    port: server.port,
    host: server.hostname,
    close: () => server.stop(false),
    closeAll: () => {
      for (const s of sockets) s.end();
    },
  };
  return Promise.resolve(result);
};
