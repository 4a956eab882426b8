/**
 * The seam between the kernel and the server's sockets. Types only.
 *
 * The server implements `Transport` for each runtime and drives the `Connection` it gets from
 * `Broker.connect()` with `receive(bytes)`, `onDrain()` and `onClosed()`.
 *
 * @module
 */

/** A client socket, as the kernel sees it. */
export interface Transport {
  /** Peer address, e.g. `127.0.0.1` (used for loopback-only users and logs). */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * Sends bytes; the transport owns `data` after the call. Returns false when the socket's
   * unsent backlog is over its high-water mark: the connection then stops deliveries until the
   * transport calls `onDrain()`.
   */
  write(data: Uint8Array): boolean;
  /** Closes the socket after what was written so far is sent. */
  close(): void;
  /** Stops reading from the socket (flow control). */
  pauseReading(): void;
  /** Starts reading again. */
  resumeReading(): void;
}
