// Heartbeats: a client that negotiated a heartbeat and then goes silent is disconnected; one that
// keeps talking is not.
//
// RabbitMQ 3.10, heartbeat=1 negotiated in tune-ok: it sends heartbeat frames, and after ~3 s without
// anything from the client it closes the TCP connection (no connection.close method is sent).

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, type TestCtx, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect } from "./_clients.ts";
import * as W from "./_wire.ts";

/** Bounded wait for the disconnect: RabbitMQ takes ~2.96 s with heartbeat=1. */
const CLOSE_DEADLINE_MS = 4500;
/** Bound for each awaited handshake reply from the broker. */
const REPLY_TIMEOUT_MS = 5000;

/** A raw socket to the broker, closed when the test ends. */
async function raw(ctx: TestCtx): Promise<W.Wire> {
  const w = await W.Wire.connect(ctx.broker.host, ctx.broker.port);
  ctx.defer(() => w.close());
  return w;
}

function assertSilentClientDropped(r: W.EofResult) {
  assert.ok(r.closed, `server kept a silent client connected for ${r.elapsedMs} ms`);
  assert.ok(r.elapsedMs >= 1000, `server dropped the client after only ${r.elapsedMs} ms (heartbeat is 1 s)`);
  const { frames } = W.splitFrames(r.bytes);
  // While waiting the server may only have sent heartbeats (a connection.close is tolerated too).
  const other = frames.filter((f) => f.type !== W.FRAME_HEARTBEAT);
  assert.ok(
    other.every((f) => f.type === 1 && f.payload[0] === 0 && f.payload[1] === 10 && f.payload[3] === 50),
    `unexpected frames while silent: ${JSON.stringify(other.map((f) => [f.type, f.channel]))}`,
  );
  assert.ok(frames.some((f) => f.type === W.FRAME_HEARTBEAT), "server sent no heartbeat frame");
  assert.ok(frames.every((f) => f.channel === 0), "heartbeats must be on channel 0");
}

brokerTest("client-negotiated heartbeat=1: a silent client is disconnected within ~3 s", async (ctx) => {
  const w = await raw(ctx);
  const { tune } = await W.handshake(w, { heartbeat: 1, timeoutMs: REPLY_TIMEOUT_MS });
  assert.ok(tune.frameMax >= 4096, `frame-max ${tune.frameMax}`);
  assertSilentClientDropped(await w.waitForEof(CLOSE_DEADLINE_MS));
});

brokerTest(
  "broker heartbeat=1: tune proposes 1, and a silent client accepting it is disconnected",
  async (ctx) => {
    const w = await raw(ctx);
    // Echoes the server's proposal in tune-ok.
    const { tune } = await W.handshake(w, { heartbeat: "proposed", timeoutMs: REPLY_TIMEOUT_MS });
    assert.equal(tune.heartbeat, 1);
    assertSilentClientDropped(await w.waitForEof(CLOSE_DEADLINE_MS));
  },
  { broker: { heartbeat: 1 } },
);

brokerTest("heartbeat=1 with a client that sends heartbeats: connection stays up", async (ctx) => {
  // amqplib sends heartbeats on its own; the broker must keep the idle connection open past
  // several heartbeat intervals.
  const conn = await amqplibConnect(ctx, { heartbeat: 1 });
  let closed = false;
  conn.on("close", () => (closed = true));
  const ch = await conn.createChannel();
  const q = uniqueName("hb-alive");
  await ch.assertQueue(q, { exclusive: true });
  const start = Date.now();
  await waitFor(() => closed || Date.now() - start >= 3500, { timeout: 5000 });
  assert.equal(closed, false, "connection was closed although the client sent heartbeats");
  ch.sendToQueue(q, Buffer.from("still here"));
  await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
  const m = await ch.get(q, { noAck: true });
  assert.equal(m && m.content.toString(), "still here");
  await ch.close();
});
