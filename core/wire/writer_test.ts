import assert from "node:assert/strict";
import { FRAME, FRAME_END } from "./constants.ts";
import { Reader } from "./reader.ts";
import { Writer } from "./writer.ts";

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}

Deno.test("Writer.octet() short() long() longlong() write big-endian unsigned integers", () => {
  const w = new Writer();
  w.octet(0xfe);
  w.short(0x8001);
  w.long(0xfffffffe);
  w.longlong(2 ** 32 + 2);
  w.longlong(Number.MAX_SAFE_INTEGER);
  w.longlong(0);
  assert.equal(
    toHex(w.written()),
    "fe 80 01 ff ff ff fe 00 00 00 01 00 00 00 02 00 1f ff ff ff ff ff ff 00 00 00 00 00 00 00 00",
  );
});

Deno.test("Writer.longlong() rejects values above 2^53 - 1, negative values and NaN", () => {
  for (const v of [2 ** 53, 2 ** 64, -1, NaN, Infinity]) {
    const w = new Writer();
    assert.throws(() => w.longlong(v), RangeError, String(v));
    assert.equal(w.offset, 0, "nothing written");
  }
});

Deno.test("Writer.shortstr() writes a length octet and UTF-8", () => {
  const w = new Writer();
  w.shortstr("");
  w.shortstr("aé");
  w.shortstr("😀");
  assert.equal(toHex(w.written()), "00 03 61 c3 a9 04 f0 9f 98 80");
});

Deno.test("Writer.shortstr() accepts exactly 255 bytes", () => {
  const w = new Writer(8);
  const ascii = "a".repeat(255);
  const twoByte = "é".repeat(127) + "a"; // 254 + 1 bytes
  w.shortstr(ascii);
  w.shortstr(twoByte);
  const out = w.written();
  assert.equal(out.length, 512);
  assert.equal(out[0], 255);
  assert.equal(out[256], 255);
  const r = new Reader().reset(out);
  assert.equal(r.shortstr(), ascii);
  assert.equal(r.shortstr(), twoByte);
});

Deno.test("Writer.shortstr() throws RangeError for more than 255 bytes", () => {
  const tooLong = [
    "a".repeat(256),
    "é".repeat(128), // 256 bytes in 128 UTF-16 units
    "a".repeat(253) + "😀", // the 4-byte character does not fit
    "€".repeat(86), // 258 bytes
  ];
  for (const s of tooLong) {
    const w = new Writer();
    w.octet(7);
    assert.throws(() => w.shortstr(s), RangeError);
    assert.equal(w.offset, 1, "offset unchanged");
  }
});

Deno.test("Writer.longstr() and longstrBytes() write a 32-bit length", () => {
  const w = new Writer(2);
  w.longstr("");
  w.longstr("é");
  w.longstrBytes(Uint8Array.of(0, 0xff));
  assert.equal(toHex(w.written()), "00 00 00 00 00 00 00 02 c3 a9 00 00 00 02 00 ff");
  const big = "x".repeat(70000);
  w.reset();
  w.longstr(big);
  assert.equal(w.offset, 70004);
  assert.equal(toHex(w.written().subarray(0, 5)), "00 01 11 70 78");
});

Deno.test("Writer.ensure() grows the buffer and keeps what was written", () => {
  const w = new Writer(4);
  for (let i = 0; i < 1000; i++) w.short(i);
  assert.equal(w.offset, 2000);
  assert.ok(w.bytes.length >= 2000);
  const r = new Reader().reset(w.written());
  for (let i = 0; i < 1000; i++) assert.equal(r.short(), i);
});

Deno.test("Writer() grows from a zero initial capacity", () => {
  const w = new Writer(0);
  w.long(0x01020304);
  assert.equal(toHex(w.written()), "01 02 03 04");
});

Deno.test("Writer.reset() forgets what was written and keeps the capacity", () => {
  const w = new Writer(16);
  w.long(1);
  const bytes = w.bytes;
  w.reset();
  assert.equal(w.offset, 0);
  assert.equal(w.written().length, 0);
  w.octet(9);
  assert.equal(w.bytes, bytes);
  assert.equal(toHex(w.written()), "09");
});

Deno.test("Writer.raw() appends bytes as given", () => {
  const w = new Writer(1);
  w.raw(Uint8Array.of(1, 2, 3));
  w.raw(new Uint8Array(0));
  assert.equal(toHex(w.written()), "01 02 03");
});

Deno.test("Writer.beginFrame() and endFrame() write header, size and frame-end", () => {
  const w = new Writer(4);
  const a = w.beginFrame(FRAME.HEARTBEAT, 0);
  w.endFrame(a);
  const b = w.beginFrame(FRAME.BODY, 0x0102);
  w.raw(new TextEncoder().encode("hello"));
  w.endFrame(b);
  assert.equal(a, 0);
  assert.equal(b, 8);
  assert.equal(
    toHex(w.written()),
    "08 00 00 00 00 00 00 ce " + "03 01 02 00 00 00 05 68 65 6c 6c 6f ce",
  );
  assert.equal(FRAME_END, 0xce);
});

Deno.test("Writer.endFrame() writes the right size when the buffer grew inside the frame", () => {
  const w = new Writer(8);
  const at = w.beginFrame(FRAME.BODY, 3);
  w.raw(new Uint8Array(5000).fill(0x42));
  w.endFrame(at);
  const out = w.written();
  assert.equal(out.length, 5008);
  assert.equal(toHex(out.subarray(0, 7)), "03 00 03 00 00 13 88");
  assert.equal(out[5006], 0x42);
  assert.equal(out[5007], 0xce);
});
