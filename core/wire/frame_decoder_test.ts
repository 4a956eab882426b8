import assert from "node:assert/strict";
import { AmqpError } from "../errors.ts";
import { FRAME } from "./constants.ts";
import { FrameDecoder, type FrameHandler } from "./frame_decoder.ts";
import { prng } from "../../tests/_prng.ts";

function hex(s: string): Uint8Array {
  const digits = s.replace(/\s+/g, "");
  return Uint8Array.from(digits.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function assertAmqpError(fn: () => unknown, code: number, reply: string): AmqpError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof AmqpError, `expected AmqpError ${code}, got ${caught}`);
  assert.equal(caught.code, code);
  assert.equal(caught.reply, reply);
  return caught;
}

interface Frame {
  type: number;
  channel: number;
  payload: Uint8Array;
}

/** Collects frames, copying each payload (views are only valid during the call). */
class Collector implements FrameHandler {
  frames: Frame[] = [];
  onFrame(type: number, channel: number, payload: Uint8Array): boolean {
    this.frames.push({ type, channel, payload: payload.slice() });
    return true;
  }
}

function frameBytes(type: number, channel: number, payload: Uint8Array, end = 0xce): Uint8Array {
  const out = new Uint8Array(payload.length + 8);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, type);
  dv.setUint16(1, channel);
  dv.setUint32(3, payload.length);
  out.set(payload, 7);
  out[out.length - 1] = end;
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A publish as a client sends it, then a heartbeat, then a 600-byte body on channel 2. */
const PUBLISH = hex("01 0001 0000000a 003c 0028 0000 00 01 71 00 ce");
const HEADER = hex("02 0001 0000001a 003c 0000 0000000000000005 9000 0a 746578742f706c61696e 02 ce");
const BODY = hex("03 0001 00000005 68656c6c6f ce");
const HEARTBEAT = hex("08 0000 00000000 ce");
const BIG_PAYLOAD = Uint8Array.from({ length: 600 }, (_, i) => (i * 7 + 3) & 0xff);
const BIG_BODY = frameBytes(FRAME.BODY, 2, BIG_PAYLOAD);
const STREAM = concat(PUBLISH, HEADER, BODY, HEARTBEAT, BIG_BODY, HEARTBEAT);

const EXPECTED: Frame[] = [
  { type: 1, channel: 1, payload: hex("003c 0028 0000 00 01 71 00") },
  { type: 2, channel: 1, payload: hex("003c 0000 0000000000000005 9000 0a 746578742f706c61696e 02") },
  { type: 3, channel: 1, payload: new TextEncoder().encode("hello") },
  { type: 8, channel: 0, payload: new Uint8Array(0) },
  { type: 3, channel: 2, payload: BIG_PAYLOAD },
  { type: 8, channel: 0, payload: new Uint8Array(0) },
];

/** Feeds `chunks` to a fresh decoder and checks the frames come out whole and in order. */
function assertDecodes(chunks: Uint8Array[], label: string): void {
  const d = new FrameDecoder(4096);
  const c = new Collector();
  for (const chunk of chunks) d.push(chunk, c);
  assert.deepStrictEqual(c.frames, EXPECTED, label);
  assert.equal(d.buffered, 0, label);
}

/** Copies a chunk into a larger buffer at an odd offset, so views have a non-zero byteOffset. */
function offsetCopy(chunk: Uint8Array, pad: number): Uint8Array {
  const backing = new Uint8Array(chunk.length + 2 * pad).fill(0xce);
  backing.set(chunk, pad);
  return backing.subarray(pad, pad + chunk.length);
}

Deno.test("FrameDecoder.push() decodes a stream of frames fed whole", () => {
  assertDecodes([STREAM], "whole");
  assertDecodes([offsetCopy(STREAM, 3)], "whole, at a byte offset");
});

Deno.test("FrameDecoder.push() decodes a stream fed one byte at a time", () => {
  const chunks = Array.from({ length: STREAM.length }, (_, i) => STREAM.subarray(i, i + 1));
  assertDecodes(chunks, "one byte at a time");
});

Deno.test("FrameDecoder.push() decodes a stream split in two at every offset", () => {
  for (let at = 0; at <= STREAM.length; at++) {
    assertDecodes([STREAM.subarray(0, at), STREAM.subarray(at)], `split at ${at}`);
  }
});

Deno.test("FrameDecoder.push() decodes a stream split at random offsets (seeded)", () => {
  const rand = prng(0x5eed);
  for (let round = 0; round < 300; round++) {
    const cuts = new Set<number>();
    const n = 1 + Math.floor(rand() * 12);
    for (let i = 0; i < n; i++) cuts.add(Math.floor(rand() * (STREAM.length + 1)));
    const points = [0, ...[...cuts].sort((a, b) => a - b), STREAM.length];
    const chunks: Uint8Array[] = [];
    for (let i = 0; i + 1 < points.length; i++) {
      chunks.push(offsetCopy(STREAM.subarray(points[i], points[i + 1]), 1 + (round % 5)));
    }
    assertDecodes(chunks, `round ${round}, cuts ${points.join(",")}`);
  }
});

Deno.test("FrameDecoder.push() accepts an empty chunk at any point", () => {
  const empty = new Uint8Array(0);
  assertDecodes([
    empty,
    STREAM.subarray(0, 3),
    empty,
    STREAM.subarray(3, 30),
    empty,
    STREAM.subarray(30),
    empty,
  ], "");
});

Deno.test("FrameDecoder.buffered reports the bytes of an incomplete frame", () => {
  const d = new FrameDecoder(4096);
  const c = new Collector();
  d.push(STREAM.subarray(0, PUBLISH.length + 5), c);
  assert.equal(c.frames.length, 1);
  assert.equal(d.buffered, 5);
  d.push(STREAM.subarray(PUBLISH.length + 5, PUBLISH.length + 20), c);
  assert.equal(d.buffered, 20);
  d.push(STREAM.subarray(PUBLISH.length + 20, PUBLISH.length + HEADER.length), c);
  assert.equal(d.buffered, 0);
  assert.deepStrictEqual(c.frames, EXPECTED.slice(0, 2));
});

Deno.test("FrameDecoder.push() hands a frame lying whole in a chunk over as a view into it", () => {
  const d = new FrameDecoder(4096);
  const chunk = offsetCopy(BODY, 4);
  let seen = 0;
  d.push(chunk, {
    onFrame(_type, _channel, payload) {
      assert.equal(payload.buffer, chunk.buffer);
      assert.equal(payload.byteOffset, chunk.byteOffset + 7);
      assert.equal(payload.length, 5);
      seen++;
      return true;
    },
  });
  assert.equal(seen, 1);
});

Deno.test("FrameDecoder.push() hands correct payload views for frames split across chunks", () => {
  // Two frames each split across chunks: the reassembly buffer is reused for the second one,
  // so each payload is checked during its own call.
  const a = frameBytes(FRAME.BODY, 7, Uint8Array.from({ length: 300 }, (_, i) => i & 0xff));
  const b = frameBytes(FRAME.BODY, 8, Uint8Array.from({ length: 200 }, (_, i) => 255 - (i & 0xff)));
  const stream = concat(a, b);
  const expected = [a.subarray(7, a.length - 1), b.subarray(7, b.length - 1)];
  for (const cuts of [[2, 150, 305, 350], [100, 301, 302, 400], [6, 7, 8, 307, 308, 309], [307, 314]]) {
    const d = new FrameDecoder(4096);
    const got: number[] = [];
    let at = 0;
    for (const cut of [...cuts, stream.length]) {
      // A fresh copy per chunk, which is then scribbled over: the decoder must not keep views into it.
      const chunk = stream.slice(at, cut);
      d.push(chunk, {
        onFrame(_type, channel, payload) {
          assert.deepStrictEqual(payload, expected[got.length], `cuts ${cuts}, frame ${got.length}`);
          got.push(channel);
          return true;
        },
      });
      chunk.fill(0);
      at = cut;
    }
    assert.deepStrictEqual(got, [7, 8], `cuts ${cuts}`);
  }
});

Deno.test("FrameDecoder.push() accepts a frame of exactly frame-max bytes", () => {
  const d = new FrameDecoder(4096);
  const c = new Collector();
  const frame = frameBytes(FRAME.BODY, 1, new Uint8Array(4096 - 8).fill(1));
  d.push(frame.subarray(0, 3), c);
  d.push(frame.subarray(3), c);
  d.push(frame, c);
  assert.equal(c.frames.length, 2);
  assert.equal(c.frames[1].payload.length, 4088);
});

Deno.test("FrameDecoder.push() throws FRAME_ERROR for a payload larger than frame-max, fed whole", () => {
  // RabbitMQ accepts a payload of up to frame-max bytes and names frame-max - 8 in its text.
  const frame = frameBytes(FRAME.BODY, 1, new Uint8Array(4097));
  const err = assertAmqpError(() => new FrameDecoder(4096).push(frame, new Collector()), 501, "FRAME_ERROR");
  assert.equal(
    err.message,
    "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,4097,4088}",
  );
  // The header alone is enough to reject it.
  assertAmqpError(
    () => new FrameDecoder(4096).push(frame.subarray(0, 7), new Collector()),
    501,
    "FRAME_ERROR",
  );
  // After a good frame in the same chunk, which is still delivered.
  const c = new Collector();
  assertAmqpError(() => new FrameDecoder(4096).push(concat(BODY, frame), c), 501, "FRAME_ERROR");
  assert.equal(c.frames.length, 1);
});

Deno.test("FrameDecoder.push() throws FRAME_ERROR for a frame larger than frame-max, split before its size", () => {
  const frame = frameBytes(FRAME.METHOD, 1, new Uint8Array(5000));
  for (let at = 1; at < 7; at++) {
    const d = new FrameDecoder(4096);
    d.push(frame.subarray(0, at), new Collector());
    assert.equal(d.buffered, at);
    const err = assertAmqpError(() => d.push(frame.subarray(at), new Collector()), 501, "FRAME_ERROR");
    assert.equal(
      err.message,
      "FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,5000,4088}",
    );
  }
  // Size field completed by a later one-byte chunk.
  const d = new FrameDecoder(4096);
  for (let i = 0; i < 6; i++) d.push(frame.subarray(i, i + 1), new Collector());
  assertAmqpError(() => d.push(frame.subarray(6, 7), new Collector()), 501, "FRAME_ERROR");
});

Deno.test("FrameDecoder.push() throws FRAME_ERROR for a huge size field", () => {
  assertAmqpError(
    () => new FrameDecoder(131072).push(hex("01 0001 ffffffff 00"), new Collector()),
    501,
    "FRAME_ERROR",
  );
});

Deno.test("FrameDecoder.push() throws FRAME_ERROR for a wrong frame-end octet", () => {
  const bad = frameBytes(FRAME.BODY, 1, hex("01 02 03"), 0x00);
  const c = new Collector();
  const err = assertAmqpError(
    () => new FrameDecoder(4096).push(concat(HEARTBEAT, bad), c),
    501,
    "FRAME_ERROR",
  );
  assert.equal(err.message, "FRAME_ERROR - type 3, all octets = <<1,2,3>>: {invalid_frame_end_marker,0}");
  assert.deepStrictEqual(c.frames, [{ type: 8, channel: 0, payload: new Uint8Array(0) }]);
  // Split at every offset: the bad frame is never delivered.
  for (let at = 1; at < bad.length; at++) {
    const d = new FrameDecoder(4096);
    const c2 = new Collector();
    d.push(bad.subarray(0, at), c2);
    const e = assertAmqpError(() => d.push(bad.subarray(at), c2), 501, "FRAME_ERROR");
    assert.equal(e.message, "FRAME_ERROR - type 3, all octets = <<1,2,3>>: {invalid_frame_end_marker,0}");
    assert.equal(c2.frames.length, 0);
  }
  // An off-by-one size puts a payload byte where the end octet should be.
  assertAmqpError(
    () => new FrameDecoder(4096).push(hex("03 0001 00000002 68 65 6c ce"), new Collector()),
    501,
    "FRAME_ERROR",
  );
});

Deno.test("FrameDecoder.push() stops decoding the chunk when onFrame returns false", () => {
  const d = new FrameDecoder(4096);
  const seen: number[] = [];
  const stopAfter = (n: number): FrameHandler => ({
    onFrame(type) {
      seen.push(type);
      return seen.length < n;
    },
  });
  d.push(STREAM, stopAfter(2));
  assert.deepStrictEqual(seen, [1, 2]);
  assert.equal(d.buffered, 0);
});

Deno.test("FrameDecoder.push() stops after a reassembled frame when onFrame returns false", () => {
  const d = new FrameDecoder(4096);
  const seen: number[] = [];
  const handler: FrameHandler = {
    onFrame(type) {
      seen.push(type);
      return false;
    },
  };
  d.push(STREAM.subarray(0, 5), handler);
  assert.deepStrictEqual(seen, []);
  // Completes the publish frame, and holds the header, body and heartbeat frames.
  d.push(STREAM.subarray(5, PUBLISH.length + HEADER.length + BODY.length + HEARTBEAT.length), handler);
  assert.deepStrictEqual(seen, [1]);
  assert.equal(d.buffered, 0);
});

Deno.test("FrameDecoder.push() does not stop when onFrame returns true", () => {
  const seen: number[] = [];
  new FrameDecoder(4096).push(STREAM, {
    onFrame(type) {
      seen.push(type);
      return true;
    },
  });
  assert.deepStrictEqual(seen, [1, 2, 3, 8, 3, 8]);
});

Deno.test("FrameDecoder.setFrameMax() applies to the next frame", () => {
  const d = new FrameDecoder(4096);
  const c = new Collector();
  const big = frameBytes(FRAME.BODY, 1, new Uint8Array(10000).fill(9));
  assertAmqpError(() => d.push(big, c), 501, "FRAME_ERROR");
  const d2 = new FrameDecoder(4096);
  d2.push(BODY.subarray(0, 4), c); // allocates the reassembly buffer at 4096
  d2.push(BODY.subarray(4), c);
  d2.setFrameMax(131072);
  d2.push(big.subarray(0, 100), c);
  d2.push(big.subarray(100), c);
  assert.equal(c.frames.length, 2);
  assert.deepStrictEqual(c.frames[1].payload, new Uint8Array(10000).fill(9));
  d2.setFrameMax(4096);
  assertAmqpError(() => d2.push(big, c), 501, "FRAME_ERROR");
});

Deno.test("FrameDecoder.setFrameMax() raised while a frame header is incomplete keeps its bytes", () => {
  const d = new FrameDecoder(4096);
  const c = new Collector();
  const payload = Uint8Array.from({ length: 10000 }, (_, i) => i & 0xff);
  const big = frameBytes(FRAME.BODY, 5, payload);
  d.push(concat(HEARTBEAT, big.subarray(0, 3)), c);
  assert.equal(d.buffered, 3);
  d.setFrameMax(131072);
  assert.equal(d.buffered, 3);
  d.push(big.subarray(3), c);
  assert.equal(c.frames.length, 2);
  assert.equal(c.frames[1].channel, 5);
  assert.deepStrictEqual(c.frames[1].payload, payload);
});
