// Connection-level protocol behaviour: protocol header negotiation, handshake timeout, frame-max.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { brokerTest, type TestCtx, uniqueName, waitFor } from "./_broker.ts";
import { amqplibConnect, cloudConnect } from "./_clients.ts";
import * as W from "./_wire.ts";

const te = new TextEncoder();

/** Bound for each awaited reply from the broker. */
const REPLY_TIMEOUT_MS = 5000;

/** A raw socket to the broker, closed when the test ends. */
async function raw(ctx: TestCtx): Promise<W.Wire> {
  const w = await W.Wire.connect(ctx.broker.host, ctx.broker.port);
  ctx.defer(() => w.close());
  return w;
}

// Answer to any unsupported protocol header: the supported one ("AMQP" 0 0 9 1), then close.
const BAD_HEADERS: [string, Uint8Array][] = [
  ["an HTTP request", te.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")],
  ["AMQP 1.0 (AMQP 0 1 0 0)", new Uint8Array([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0])],
  ["AMQP 0-9-2 (AMQP 0 0 9 2)", new Uint8Array([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 2])],
  ["AMQP 0-8 (AMQP 0 0 8 0)", new Uint8Array([0x41, 0x4d, 0x51, 0x50, 0, 0, 8, 0])],
];

for (const [what, header] of BAD_HEADERS) {
  brokerTest(
    `wrong protocol header (${what}) gets AMQP 0-9-1 header back and the socket closed`,
    async (ctx) => {
      const w = await raw(ctx);
      await w.send(header);
      const r = await w.waitForEof(3000);
      assert.ok(r.closed, "server did not close the socket");
      assert.deepEqual(Array.from(r.bytes), Array.from(W.PROTOCOL_HEADER));
    },
  );
}

brokerTest("correct protocol header gets connection.start with version 0-9 and PLAIN", async (ctx) => {
  const w = await raw(ctx);
  await w.send(W.PROTOCOL_HEADER);
  const m = await w.readMethod(REPLY_TIMEOUT_MS);
  assert.deepEqual([m.channel, m.classId, m.methodId], [0, 10, 10]);
  assert.deepEqual([m.args.octet(), m.args.octet()], [0, 9], "version-major, version-minor");
  m.args.bytes(m.args.long()); // server-properties (a field table)
  const mechanisms = m.args.longstr().split(" ");
  const locales = m.args.longstr().split(" ");
  assert.ok(mechanisms.includes("PLAIN"), `mechanisms: ${mechanisms}`);
  assert.ok(locales.includes("en_US"), `locales: ${locales}`);
});

brokerTest(
  "handshake timeout: a client that never sends the protocol header is disconnected",
  async (ctx) => {
    const w = await raw(ctx);
    const r = await w.waitForEof(3000);
    assert.ok(r.closed, `socket still open after ${r.elapsedMs} ms (handshakeTimeout 300 ms)`);
    assert.ok(r.elapsedMs >= 200, `closed after only ${r.elapsedMs} ms`);
    assert.equal(r.bytes.length, 0, "nothing is sent before the client's header");
  },
  { broker: { handshakeTimeout: 300 } },
);

brokerTest(
  "handshake timeout: a client that stops after the protocol header is disconnected",
  async (ctx) => {
    const w = await raw(ctx);
    await w.send(W.PROTOCOL_HEADER);
    const r = await w.waitForEof(3000);
    assert.ok(r.closed, `socket still open after ${r.elapsedMs} ms (handshakeTimeout 300 ms)`);
    // connection.start was sent; then the socket was closed.
    const { frames } = W.splitFrames(r.bytes);
    assert.equal(frames[0]?.type, 1);
    assert.deepEqual(Array.from(frames[0].payload.subarray(0, 4)), [0, 10, 0, 10]);
  },
  { broker: { handshakeTimeout: 300 } },
);

brokerTest("connection.close: close-ok is sent and closing the socket is left to the client", async (ctx) => {
  // RabbitMQ 3.10 answers connection.close with close-ok and then keeps the socket open until the client
  // closes it (close-ok "tells the recipient that it is safe to ... close the socket"). A server that
  // closes right away races with frames the client is still writing (amqplib sends a pending
  // channel.close-ok after connection.close): the client's late write draws a TCP RST and amqplib's
  // conn.close() then never resolves.
  const w = await raw(ctx);
  await W.handshake(w, { heartbeat: "proposed", timeoutMs: REPLY_TIMEOUT_MS });
  await w.send(W.M.connectionClose(200, "Goodbye"));
  await w.expectMethod(10, 51, 3000); // connection.close-ok
  const r = await w.waitForEof(500);
  assert.equal(r.closed, false, `server closed the socket ${r.elapsedMs} ms after close-ok`);
  assert.equal(r.bytes.length, 0, "nothing may follow close-ok");
});

brokerTest("messages larger than frame-max are split into body frames and arrive intact", async (ctx) => {
  const conn = await amqplibConnect(ctx);
  const ch = await conn.createChannel();
  const q = uniqueName("big");
  await ch.assertQueue(q, { exclusive: true });
  const big = Buffer.alloc(1_000_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
  ch.sendToQueue(q, big);
  await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
  const m = await ch.get(q, { noAck: true });
  assert.ok(m);
  assert.equal(m.content.length, big.length);
  assert.ok(Buffer.compare(m.content, big) === 0, "body differs");
  await ch.close();
});

brokerTest(
  "broker frameMax=4096: tune proposes 4096 and a 50 KB message round-trips",
  async (ctx) => {
    const w = await raw(ctx);
    const { tune } = await W.handshake(w, { heartbeat: "proposed", timeoutMs: REPLY_TIMEOUT_MS });
    assert.equal(tune.frameMax, 4096);

    const client = await cloudConnect(ctx);
    const ch = await client.channel();
    const q = await ch.queue("", { exclusive: true });
    const body = new Uint8Array(50_000).map((_, i) => i % 251);
    await q.publish(body);
    const m = await q.get({ noAck: true });
    assert.ok(m);
    assert.equal(m.bodySize, body.length);
    assert.deepEqual(m.body, body);
    await ch.close();
  },
  { broker: { frameMax: 4096 } },
);
