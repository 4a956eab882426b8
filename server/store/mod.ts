/**
 * Opening a data directory for a broker: the file store attached, durable definitions
 * restored, each durable queue refilled from its journal, all before a client is accepted.
 *
 * @module
 */

import type { Broker } from "../../core/mod.ts";
import { isRecovered } from "../../core/broker/vhost.ts";
import { type Definitions, exportDefinitions, importDefinitions } from "../definitions.ts";
import { FileStore, type SyncMode } from "./file_store.ts";
import { collectGarbage } from "../resources.ts";

export { FileStore, type SyncMode } from "./file_store.ts";

/**
 * Attaches a file store in `dir` to the broker and recovers what it holds. The broker must have
 * its plugins registered (exchanges of a type whose plugin is missing are kept, and refuse
 * publishes until it is loaded).
 */
export function openDataDir(broker: Broker, dir: string, sync: SyncMode = "always"): FileStore {
  const started = performance.now();
  const store = FileStore.open({ dir, sync, log: broker.log });
  broker.store = store;
  if (store.recoveredDefinitions !== null) {
    importDefinitions(broker, store.recoveredDefinitions as Definitions, {
      recovery: true,
      onError: (what, err) =>
        broker.log.error("recovery: definition not restored", { what, error: err.message }),
    });
  }
  for (const v of broker.vhosts.values()) {
    for (const q of v.queues.values()) {
      if (isRecovered(q)) {
        store.recover(
          v.name,
          q.name,
          (l, len, body, delivered, expires) => q.restore(l, len, body, delivered, expires),
        );
      }
    }
  }
  let delayed = 0;
  for (const v of broker.vhosts.values()) delayed += v.restoreDelayed();
  const summary = store.finishRecovery();
  // Replaying journals allocated arrays as large as the queues (17 bytes a message): give that
  // memory back now rather than at some later collection.
  if (summary.messages > 100_000) collectGarbage();
  // From now on every change to durable definitions is written (those restored included).
  store.definitions = () => exportDefinitions(broker, { durableOnly: true });
  store.definitionsChanged();
  broker.log.info("store recovered", {
    dir,
    sync,
    queues: summary.queues,
    messages: summary.messages,
    segments: summary.segments,
    delayed,
    ms: Math.round(performance.now() - started),
  });
  return store;
}
