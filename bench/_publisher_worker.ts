/**
 * Publisher of bench/amqp_bench.ts, run in its own Worker (thread) so that the publishing and the
 * consuming connection each have an event loop to themselves.
 *
 * Protocol (postMessage):
 *   main -> worker  { cmd: "start", url, name, timeoutMs, params, counters }   counters: shared Int32Array
 *   worker -> main  { ev: "ready" }            connected; publishing has started
 *   main -> worker  { cmd: "stop" }            (counters[STOP] is set too)
 *   worker -> main  { ev: "stopped", drainS, depth }   loop ended, broker drained (passive declare)
 *   worker -> main  { ev: "error", message }   any time; the worker then closes
 *   worker -> main  { ev: "closed" }           connection closed; the worker exits
 *
 * @module
 */
/// <reference lib="deno.worker" />
import {
  closeConn,
  type Conn,
  errMsg,
  openConn,
  publishLoop,
  type PublishParams,
  STOP,
  withTimeout,
} from "./_amqp_common.ts";

interface StartMsg {
  cmd: "start";
  url: string;
  name: string;
  timeoutMs: number;
  params: PublishParams;
  counters: Int32Array;
}

let stray: unknown;
self.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  stray ??= e.reason;
});

let stopResolve: () => void = () => {};
const stopped = new Promise<void>((r) => (stopResolve = r));
let started = false;

self.onmessage = (e: MessageEvent<StartMsg | { cmd: "stop" }>) => {
  const m = e.data;
  if (m.cmd === "stop") {
    stopResolve();
    return;
  }
  if (m.cmd === "start" && !started) {
    started = true;
    run(m).finally(() => {
      self.postMessage({ ev: "closed" });
      self.close();
    });
  }
};

async function run(m: StartMsg): Promise<void> {
  let pub: Conn | undefined;
  try {
    pub = await openConn(m.url, m.name, m.timeoutMs);
    self.postMessage({ ev: "ready" });
    await publishLoop(pub, m.params, m.counters, stopped, () => stray);
    if (pub.error || stray) throw pub.error ?? stray;
    // the loop also ends at maxMessages: wait for the stop order before draining (the main
    // thread always sends it, and terminates this worker if it has to)
    if (Atomics.load(m.counters, STOP) === 0) await withTimeout(stopped, 3_600_000, "stop order");
    const t0 = performance.now();
    // one round trip on the publishing channel: the broker has read everything written before it
    const ok = await withTimeout(
      pub.ch.queueDeclare(m.params.queue, { passive: true }),
      Math.max(m.timeoutMs, 60_000),
      "drain (queue.declare passive on the publishing channel)",
    );
    self.postMessage({ ev: "stopped", drainS: (performance.now() - t0) / 1000, depth: ok.messageCount });
  } catch (e) {
    self.postMessage({ ev: "error", message: errMsg(e) });
  } finally {
    await closeConn(pub, m.timeoutMs);
  }
}
