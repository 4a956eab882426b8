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

import { setImmediate } from "node:timers";
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

  /** Bytes the kernel has not used yet (a publisher over its per-turn budget); null if none. */
  #backlog: Uint8Array | null = null;
  readonly #continue = () => this.#feedBacklog();
  /** The event-loop turn this socket's publish budget belongs to. */
  #turn = -1;

  /** A chunk from the socket. */
  onData(chunk: Uint8Array): void {
    if (this.#backlog !== null) {
      // Still working through earlier bytes (reads are paused, but Bun may have one in flight).
      const joined = new Uint8Array(this.#backlog.length + chunk.length);
      joined.set(this.#backlog);
      joined.set(chunk, this.#backlog.length);
      this.#backlog = joined;
      return;
    }
    // The publish budget is per turn of the event loop, not per data callback: Bun may hand one
    // socket several chunks in one turn (64 KiB holds only ~60 publishes of 1 KiB, fewer than the
    // budget), and a fresh budget for each would never hold a fast publisher back.
    const turn = currentTurn();
    if (turn !== this.#turn) {
      this.#turn = turn;
      this.connection.newTurn();
    }
    const used = this.connection.receive(chunk);
    if (used < chunk.length) {
      this.#backlog = chunk.slice(used); // Bun may reuse the chunk after this callback
      this.#socket.pause?.();
      setTimeout(this.#continue, 0);
    }
  }

  #feedBacklog(): void {
    const backlog = this.#backlog;
    if (backlog === null || this.#closed) return;
    this.#turn = currentTurn();
    this.connection.newTurn();
    const used = this.connection.receive(backlog);
    if (used < backlog.length) {
      this.#backlog = backlog.subarray(used);
      setTimeout(this.#continue, 0);
      return;
    }
    this.#backlog = null;
    this.#socket.resume?.();
  }

  onSocketClosed(): void {
    this.#closed = true;
    this.connection.onClosed();
  }
}

let turnCounter = 0;
let turnScheduled = false;

/** A number that changes once per turn of the event loop (while sockets are busy). */
function currentTurn(): number {
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(() => {
      turnCounter++;
      turnScheduled = false;
    });
  }
  return turnCounter;
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
          s.data.onData(chunk);
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
    const e = err as { code?: string; message?: string };
    const reason = e.code === "EADDRINUSE" ? "address already in use" : e.message ?? String(err);
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
