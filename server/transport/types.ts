/**
 * What every runtime's TCP listener provides to `createBroker`.
 *
 * @module
 */

import type { Broker } from "../../core/mod.ts";

/** A listening TCP socket feeding connections into the broker. */
export interface Listener {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  readonly host: string;
  /** Stops accepting; existing connections stay. */
  close(): void;
  /** Closes every open socket at once. */
  closeAll(): void;
}

/** Starts a listener. Throws a clear error if the address cannot be bound. */
export type Listen = (broker: Broker, options: { host: string; port: number }) => Promise<Listener>;

/**
 * Unsent bytes past which `write()` reports congestion, so deliveries to a consumer that is
 * not reading stop instead of piling up in memory. 1 MiB keeps a fast consumer's pipe full.
 */
export const HIGH_WATER_MARK = 1024 * 1024;
/** Backlog below which a congested socket is reported drained again. */
export const LOW_WATER_MARK = 256 * 1024;
