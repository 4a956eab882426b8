import assert from "node:assert/strict";
import { AmqpError } from "../errors.ts";
import { Reader } from "./reader.ts";

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

Deno.test("Reader.octet() short() long() read big-endian unsigned integers", () => {
  const r = new Reader().reset(hex("ff 80 01 ff ff ff fe 00 00 00 01"));
  assert.equal(r.octet(), 255);
  assert.equal(r.short(), 0x8001);
  assert.equal(r.long(), 0xfffffffe);
  assert.equal(r.remaining, 4);
  assert.equal(r.long(), 1);
  assert.equal(r.remaining, 0);
  assert.equal(r.offset, 11);
});

Deno.test("Reader.longlong() reads unsigned 64-bit values up to 2^53 - 1", () => {
  const r = new Reader().reset(
    hex("00 00 00 00 00 00 00 05 00 00 00 01 00 00 00 02 00 1f ff ff ff ff ff ff"),
  );
  assert.equal(r.longlong(), 5);
  assert.equal(r.longlong(), 2 ** 32 + 2);
  assert.equal(r.longlong(), Number.MAX_SAFE_INTEGER);
});

Deno.test("Reader.longlong() rejects values of 2^53 and above with SYNTAX_ERROR", () => {
  for (const bytes of ["00 20 00 00 00 00 00 00", "80 00 00 00 00 00 00 00", "ff ff ff ff ff ff ff ff"]) {
    const err = assertAmqpError(() => new Reader().reset(hex(bytes)).longlong(), 502, "SYNTAX_ERROR");
    assert.equal(err.message, "SYNTAX_ERROR - 64-bit value out of range");
  }
});

Deno.test("Reader.shortstr() and longstr() decode UTF-8", () => {
  const r = new Reader().reset(hex("00 03 61 c3 a9 00 00 00 00 00 00 00 04 f0 9f 98 80"));
  assert.equal(r.shortstr(), "");
  assert.equal(r.shortstr(), "aé");
  assert.equal(r.longstr(), "");
  assert.equal(r.longstr(), "😀");
  assert.equal(r.remaining, 0);
});

Deno.test("Reader.longstrBytes() returns a copy of the raw bytes", () => {
  const input = hex("00 00 00 04 00 ff c3 28 99");
  const r = new Reader().reset(input);
  const b = r.longstrBytes();
  assert.deepStrictEqual(b, Uint8Array.of(0x00, 0xff, 0xc3, 0x28));
  assert.equal(r.remaining, 1);
  input.fill(0);
  assert.deepStrictEqual(b, Uint8Array.of(0x00, 0xff, 0xc3, 0x28));
  assert.notEqual(b.buffer, input.buffer);
  assert.deepStrictEqual(new Reader().reset(hex("00 00 00 00")).longstrBytes(), new Uint8Array(0));
});

Deno.test("Reader.shortstr() and longstr() values are unchanged after the input is mutated", () => {
  const input = hex("02 68 69 00 00 00 03 61 62 63");
  const r = new Reader().reset(input);
  const s = r.shortstr();
  const l = r.longstr();
  input.fill(0x7a);
  assert.equal(s, "hi");
  assert.equal(l, "abc");
});

Deno.test("Reader.reset() reads a view at a non-zero byte offset", () => {
  const backing = hex("ee ee ee 00 2a 00 00 00 02 6f 6b ee ee");
  const view = backing.subarray(3, 11);
  const r = new Reader().reset(view);
  assert.equal(r.short(), 42);
  assert.equal(r.longstr(), "ok");
  assert.equal(r.remaining, 0);
  // The bytes after the view are not readable.
  assertAmqpError(() => r.octet(), 501, "FRAME_ERROR");
  // Reusing the reader starts over.
  r.reset(backing.subarray(1, 3));
  assert.equal(r.offset, 0);
  assert.equal(r.short(), 0xeeee);
});

Deno.test("Reader.octet() short() long() longlong() throw FRAME_ERROR when truncated", () => {
  const bytes = hex("01 02 03 04 05 06 07 08");
  const reads: [string, number, (r: Reader) => unknown][] = [
    ["octet", 1, (r) => r.octet()],
    ["short", 2, (r) => r.short()],
    ["long", 4, (r) => r.long()],
    ["longlong", 8, (r) => r.longlong()],
  ];
  for (const [name, size, read] of reads) {
    for (let have = 0; have < size; have++) {
      const err = assertAmqpError(
        () => read(new Reader().reset(bytes.subarray(0, have))),
        501,
        "FRAME_ERROR",
      );
      assert.equal(err.hard, true, name);
    }
  }
  const err = assertAmqpError(() => new Reader().reset(hex("00 00")).long(), 501, "FRAME_ERROR");
  assert.equal(err.message, "FRAME_ERROR - truncated frame: needed 4 more bytes at offset 0");
});

Deno.test("Reader.shortstr() longstr() longstrBytes() table() array() throw FRAME_ERROR when truncated", () => {
  const cases: [string, (r: Reader) => unknown][] = [
    ["03 61 62 63", (r) => r.shortstr()],
    ["00 00 00 03 61 62 63", (r) => r.longstr()],
    ["00 00 00 03 61 62 63", (r) => r.longstrBytes()],
    ["00 00 00 03 01 61 56", (r) => r.table()],
    ["00 00 00 02 74 01", (r) => r.array()],
  ];
  for (const [full, read] of cases) {
    const bytes = hex(full);
    for (let cut = 0; cut < bytes.length; cut++) {
      assertAmqpError(() => read(new Reader().reset(bytes.subarray(0, cut))), 501, "FRAME_ERROR");
    }
    const r = new Reader().reset(bytes);
    read(r);
    assert.equal(r.remaining, 0, full);
  }
});

Deno.test("Reader.longstr() throws FRAME_ERROR for a length far beyond the input", () => {
  assertAmqpError(() => new Reader().reset(hex("ff ff ff ff 61")).longstr(), 501, "FRAME_ERROR");
  assertAmqpError(() => new Reader().reset(hex("ff ff ff ff 61")).table(), 501, "FRAME_ERROR");
});

Deno.test("Reader() starts empty", () => {
  const r = new Reader();
  assert.equal(r.remaining, 0);
  assertAmqpError(() => r.octet(), 501, "FRAME_ERROR");
});
