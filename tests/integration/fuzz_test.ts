// Bad input never crashes the broker and never touches other connections.
//
// While a healthy client publishes and consumes a fixed stream of messages, many short-lived
// connections send random bytes, valid sessions with bytes flipped, truncated frames and frames
// with random types, channels and sizes. Bounded in count (FUZZ_CONNECTIONS) and time. Afterwards
// the healthy client must have received every message, in order, exactly once, and the broker must
// still accept new connections. The seed is printed so a failure can be replayed (FUZZ_SEED=…).

import assert from "node:assert/strict";
import { brokerTest, waitFor } from "./_broker.ts";
import { AMQPClient } from "./_deps.ts";
import { prng } from "../_prng.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 1_000_000);
const FUZZ_CONNECTIONS = Number(Deno.env.get("FUZZ_CONNECTIONS") ?? 300);
const MESSAGES = 2_000;
const TIME_BUDGET_MS = 20_000;

const enc = new TextEncoder();
function frame(type: number, channel: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(payload.length + 8);
  const v = new DataView(f.buffer);
  v.setUint8(0, type);
  v.setUint16(1, channel);
  v.setUint32(3, payload.length);
  f.set(payload, 7);
  f[f.length - 1] = 0xce;
  return f;
}
function method(classId: number, methodId: number, args: number[]): Uint8Array {
  return Uint8Array.of(classId >> 8, classId & 255, methodId >> 8, methodId & 255, ...args);
}
function shortstr(s: string): number[] {
  const b = enc.encode(s);
  return [b.length, ...b];
}
function longstr(b: Uint8Array): number[] {
  return [b.length >>> 24, (b.length >>> 16) & 255, (b.length >>> 8) & 255, b.length & 255, ...b];
}
const EMPTY_TABLE = [0, 0, 0, 0];

/** A valid client session: handshake, channel, declare, publish, consume, ack, close. */
function validSession(): Uint8Array[] {
  const plain = enc.encode("\0guest\0guest");
  return [
    enc.encode("AMQP\x00\x00\x09\x01"),
    frame(
      1,
      0,
      method(10, 11, [...EMPTY_TABLE, ...shortstr("PLAIN"), ...longstr(plain), ...shortstr("en_US")]),
    ),
    frame(1, 0, method(10, 31, [0x07, 0xff, 0, 2, 0, 0, 0, 0])),
    frame(1, 0, method(10, 40, [...shortstr("/"), 0, 0])),
    frame(1, 1, method(20, 10, [0])),
    frame(1, 1, method(50, 10, [0, 0, ...shortstr("fuzz-q"), 0, ...EMPTY_TABLE])),
    frame(1, 1, method(60, 40, [0, 0, ...shortstr(""), ...shortstr("fuzz-q"), 1])),
    frame(2, 1, Uint8Array.of(0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x90, 0, ...shortstr("text/plain"))),
    frame(3, 1, enc.encode("hello")),
    frame(1, 1, method(60, 20, [0, 0, ...shortstr("fuzz-q"), ...shortstr(""), 0, ...EMPTY_TABLE])),
    frame(1, 1, method(60, 80, [0, 0, 0, 0, 0, 0, 0, 1, 0])),
    frame(1, 1, method(20, 40, [0, 200, ...shortstr("bye"), 0, 0, 0, 0])),
    frame(1, 0, method(10, 50, [0, 200, ...shortstr("bye"), 0, 0, 0, 0])),
  ];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One malicious byte stream, chosen by `rand`. */
function badInput(rand: () => number): Uint8Array {
  const session = validSession();
  const kind = Math.floor(rand() * 5);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
  switch (kind) {
    case 0: // pure noise, with or without a valid protocol header
      return rand() < 0.5
        ? randomBytes(1 + Math.floor(rand() * 2000))
        : concat([session[0], randomBytes(1 + Math.floor(rand() * 2000))]);
    case 1: { // a valid session with a few bytes flipped after the protocol header
      const bytes = concat(session);
      const flips = 1 + Math.floor(rand() * 6);
      for (let i = 0; i < flips; i++) {
        bytes[8 + Math.floor(rand() * (bytes.length - 8))] = Math.floor(rand() * 256);
      }
      return bytes;
    }
    case 2: { // a valid session cut short anywhere
      const bytes = concat(session);
      return bytes.subarray(0, Math.floor(rand() * bytes.length));
    }
    case 3: { // handshake, then frames with random type, channel, size and payload
      const frames = [session[0], session[1], session[2], session[3], session[4]];
      const n = 1 + Math.floor(rand() * 8);
      for (let i = 0; i < n; i++) {
        const f = frame(
          Math.floor(rand() * 10),
          Math.floor(rand() * 4),
          randomBytes(Math.floor(rand() * 64)),
        );
        if (rand() < 0.2) new DataView(f.buffer).setUint32(3, Math.floor(rand() * 0xffffffff)); // lie about the size
        frames.push(f);
      }
      return concat(frames);
    }
    default: { // valid frames, shuffled
      const frames = session.slice(1);
      for (let i = frames.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [frames[i], frames[j]] = [frames[j], frames[i]];
      }
      return concat([session[0], ...frames]);
    }
  }
}

async function attack(port: number, bytes: Uint8Array): Promise<void> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(bytes).catch(() => {});
    // Read whatever the broker answers, briefly; it may close the socket or wait for more.
    const buf = new Uint8Array(4096);
    const until = Date.now() + 50;
    while (Date.now() < until) {
      const n = await Promise.race([
        conn.read(buf).catch(() => null),
        new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 20)),
      ]);
      if (n === null || n === "timeout") break;
    }
  } finally {
    try {
      conn?.close();
    } catch { /* closed by the broker */ }
  }
}

brokerTest(
  `random and mutated input never disturbs a healthy client (seed ${SEED})`,
  async ({ url, broker, defer }) => {
    const rand = prng(SEED);
    const client = new AMQPClient(url);
    const conn = await client.connect();
    defer(() => conn.close().catch(() => {}));
    const pubCh = await conn.channel();
    const subCh = await conn.channel();
    await subCh.prefetch(50);
    const q = await pubCh.queue("healthy", { exclusive: true });
    const received: number[] = [];
    await subCh.basicConsume(q.name, { noAck: false }, (msg) => {
      received.push(Number(msg.bodyToString()));
      msg.ack();
    });

    const deadline = Date.now() + TIME_BUDGET_MS;
    let published = 0;
    const publisher = (async () => {
      while (published < MESSAGES && Date.now() < deadline) {
        await q.publish(String(published));
        published++;
        if (published % 50 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    })();
    let attacks = 0;
    const attackers = (async () => {
      while (attacks < FUZZ_CONNECTIONS && Date.now() < deadline) {
        const batch = [];
        for (let i = 0; i < 10 && attacks < FUZZ_CONNECTIONS; i++, attacks++) {
          batch.push(
            attack(broker.port, badInput(rand)),
          );
        }
        await Promise.all(batch);
      }
    })();
    await Promise.all([publisher, attackers]);
    await waitFor(() => received.length >= MESSAGES, { timeout: 10_000 });
    assert.equal(published, MESSAGES, "publisher finished within the time budget");
    assert.equal(attacks, FUZZ_CONNECTIONS, "every attack ran within the time budget");
    assert.deepEqual(
      received,
      Array.from({ length: MESSAGES }, (_, i) => i),
      "every message, in order, once",
    );

    // The broker still serves new connections.
    const again = await new AMQPClient(url).connect();
    const ch = await again.channel();
    const q2 = await ch.queue("", { exclusive: true });
    await q2.publish("still here");
    assert.equal((await q2.get({ noAck: true }))?.bodyToString(), "still here");
    await again.close();
  },
);
