import assert from "node:assert/strict";
import { AmqpError } from "../errors.ts";
import { EMPTY_TABLE, type FieldTable, type FieldValue, int64, TypedField } from "./field_table.ts";
import { Reader } from "./reader.ts";
import { Writer } from "./writer.ts";

/** Bytes from a hex string such as `"49 00 00 00 01"`. */
function hex(s: string): Uint8Array {
  const digits = s.replace(/\s+/g, "");
  return Uint8Array.from(digits.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}

function encodeValue(v: FieldValue): Uint8Array {
  const w = new Writer(16);
  w.fieldValue(v);
  return w.written().slice();
}

function encodeTable(t: FieldTable): Uint8Array {
  const w = new Writer(16);
  w.table(t);
  return w.written().slice();
}

function decodeValue(bytes: Uint8Array): FieldValue {
  const r = new Reader().reset(bytes);
  const v = r.fieldValue();
  assert.equal(r.remaining, 0, "value bytes fully consumed");
  return v;
}

function decodeTable(bytes: Uint8Array): FieldTable {
  const r = new Reader().reset(bytes);
  const t = r.table();
  assert.equal(r.remaining, 0, "table bytes fully consumed");
  return t;
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

/**
 * One case per tag: the value to encode, its exact wire bytes (tag included), and what decoding
 * those bytes gives back.
 */
const TAG_CASES: { tag: string; value: FieldValue; bytes: string; decoded: FieldValue }[] = [
  { tag: "t", value: true, bytes: "74 01", decoded: true },
  { tag: "t", value: false, bytes: "74 00", decoded: false },
  { tag: "b", value: new TypedField("b", -5), bytes: "62 fb", decoded: new TypedField("b", -5) },
  { tag: "B", value: new TypedField("B", 250), bytes: "42 fa", decoded: new TypedField("B", 250) },
  // RabbitMQ semantics: `s` is a signed 16-bit integer, not a short string.
  { tag: "s", value: new TypedField("s", -2), bytes: "73 ff fe", decoded: new TypedField("s", -2) },
  { tag: "u", value: new TypedField("u", 65000), bytes: "75 fd e8", decoded: new TypedField("u", 65000) },
  { tag: "I", value: -123456, bytes: "49 ff fe 1d c0", decoded: -123456 },
  {
    tag: "i",
    value: new TypedField("i", 4000000000),
    bytes: "69 ee 6b 28 00",
    decoded: new TypedField("i", 4000000000),
  },
  // RabbitMQ semantics: `l` is a signed 64-bit integer.
  {
    tag: "l",
    value: int64(-(2 ** 40) - 7),
    bytes: "6c ff ff fe ff ff ff ff f9",
    decoded: new TypedField("l", -(2 ** 40) - 7),
  },
  {
    tag: "l",
    value: int64(2 ** 53 - 1),
    bytes: "6c 00 1f ff ff ff ff ff ff",
    decoded: new TypedField("l", 2 ** 53 - 1),
  },
  {
    tag: "L",
    value: new TypedField("L", 2 ** 40 + 1),
    bytes: "4c 00 00 01 00 00 00 00 01",
    decoded: new TypedField("L", 2 ** 40 + 1),
  },
  { tag: "f", value: new TypedField("f", 1.5), bytes: "66 3f c0 00 00", decoded: new TypedField("f", 1.5) },
  { tag: "d", value: 3.25, bytes: "64 40 0a 00 00 00 00 00 00", decoded: 3.25 },
  // An integral double stays a TypedField so it is not re-sent as `I`.
  {
    tag: "d",
    value: new TypedField("d", 2),
    bytes: "64 40 00 00 00 00 00 00 00",
    decoded: new TypedField("d", 2),
  },
  {
    tag: "D",
    value: new TypedField("D", { scale: 2, value: -31415 }),
    bytes: "44 02 ff ff 85 49",
    decoded: new TypedField("D", { scale: 2, value: -31415 }),
  },
  { tag: "S", value: "héllo", bytes: "53 00 00 00 06 68 c3 a9 6c 6c 6f", decoded: "héllo" },
  { tag: "S", value: "", bytes: "53 00 00 00 00", decoded: "" },
  // RabbitMQ semantics: `x` is a byte array.
  {
    tag: "x",
    value: Uint8Array.of(0, 255, 1),
    bytes: "78 00 00 00 03 00 ff 01",
    decoded: Uint8Array.of(0, 255, 1),
  },
  {
    tag: "A",
    value: [1, "a"],
    bytes: "41 00 00 00 0b 49 00 00 00 01 53 00 00 00 01 61",
    decoded: [1, "a"],
  },
  { tag: "A", value: [], bytes: "41 00 00 00 00", decoded: [] },
  // RabbitMQ semantics: `T` is seconds since the epoch.
  {
    tag: "T",
    value: new Date(1700000000 * 1000),
    bytes: "54 00 00 00 00 65 53 f1 00",
    decoded: new Date(1700000000 * 1000),
  },
  { tag: "F", value: { k: true }, bytes: "46 00 00 00 04 01 6b 74 01", decoded: { k: true } },
  { tag: "F", value: {}, bytes: "46 00 00 00 00", decoded: {} },
  { tag: "V", value: null, bytes: "56", decoded: null },
];

Deno.test("Writer.fieldValue() writes the exact bytes of every field type tag", () => {
  const tags = new Set<string>();
  for (const c of TAG_CASES) {
    assert.equal(toHex(encodeValue(c.value)), c.bytes, `tag ${c.tag}`);
    assert.equal(String.fromCharCode(hex(c.bytes)[0]), c.tag);
    tags.add(c.tag);
  }
  assert.deepEqual([...tags].sort(), "t b B s u I i l L f d D S x A T F V".split(" ").sort());
});

Deno.test("Reader.fieldValue() decodes every field type tag", () => {
  for (const c of TAG_CASES) {
    assert.deepStrictEqual(decodeValue(hex(c.bytes)), c.decoded, `tag ${c.tag}`);
  }
});

Deno.test("Reader.fieldValue() decodes the extremes of each integer tag", () => {
  const cases: [string, FieldValue][] = [
    ["62 80", new TypedField("b", -128)],
    ["62 7f", new TypedField("b", 127)],
    ["42 ff", new TypedField("B", 255)],
    ["73 80 00", new TypedField("s", -32768)],
    ["73 7f ff", new TypedField("s", 32767)],
    ["75 ff ff", new TypedField("u", 65535)],
    ["49 80 00 00 00", -2147483648],
    ["49 7f ff ff ff", 2147483647],
    ["69 ff ff ff ff", new TypedField("i", 4294967295)],
    ["6c ff ff ff ff ff ff ff ff", new TypedField("l", -1)],
    ["6c ff e0 00 00 00 00 00 01", new TypedField("l", -(2 ** 53) + 1)],
    ["4c 00 1f ff ff ff ff ff ff", new TypedField("L", 2 ** 53 - 1)],
    ["54 00 00 00 00 00 00 00 00", new Date(0)],
  ];
  for (const [bytes, expected] of cases) {
    assert.deepStrictEqual(decodeValue(hex(bytes)), expected, bytes);
    assert.equal(toHex(encodeValue(expected)), bytes, `re-encoding ${bytes}`);
  }
});

Deno.test("Reader.fieldValue() rejects L and T values of 2^53 and above with SYNTAX_ERROR", () => {
  assertAmqpError(() => decodeValue(hex("4c 00 20 00 00 00 00 00 00")), 502, "SYNTAX_ERROR");
  assertAmqpError(() => decodeValue(hex("4c ff ff ff ff ff ff ff ff")), 502, "SYNTAX_ERROR");
  assertAmqpError(() => decodeValue(hex("54 80 00 00 00 00 00 00 00")), 502, "SYNTAX_ERROR");
});

Deno.test("Writer.fieldValue() writes a Date as whole seconds, rounding down", () => {
  assert.equal(toHex(encodeValue(new Date(1999))), "54 00 00 00 00 00 00 00 01");
  assert.deepStrictEqual(decodeValue(encodeValue(new Date(1700000000999))), new Date(1700000000000));
});

Deno.test("Writer.fieldValue() encodes plain numbers as I, l or d", () => {
  const cases: [number, string][] = [
    [0, "49 00 00 00 00"],
    [1, "49 00 00 00 01"],
    [2147483647, "49 7f ff ff ff"],
    [-2147483648, "49 80 00 00 00"],
    [2147483648, "6c 00 00 00 00 80 00 00 00"],
    [-2147483649, "6c ff ff ff ff 7f ff ff ff"],
    [2 ** 53 - 1, "6c 00 1f ff ff ff ff ff ff"],
    [-(2 ** 53) + 1, "6c ff e0 00 00 00 00 00 01"],
    [0.5, "64 3f e0 00 00 00 00 00 00"],
    [-1.25, "64 bf f4 00 00 00 00 00 00"],
  ];
  for (const [n, bytes] of cases) assert.equal(toHex(encodeValue(n)), bytes, String(n));
});

Deno.test("Writer.fieldValue() encodes undefined as void (V)", () => {
  const w = new Writer();
  w.fieldValue(undefined);
  assert.equal(toHex(w.written()), "56");
});

/** A table holding every tag once, as hand-written wire bytes (key, then tagged value). */
const EVERY_TAG_ENTRIES: [string, string][] = [
  ["t", "74 01"],
  ["b", "62 fb"],
  ["B", "42 fa"],
  ["s", "73 ff fe"],
  ["u", "75 fd e8"],
  ["I", "49 ff fe 1d c0"],
  ["i", "69 ee 6b 28 00"],
  ["l", "6c ff ff fe ff ff ff ff f9"],
  ["L", "4c 00 00 01 00 00 00 00 01"],
  ["f", "66 3f c0 00 00"],
  ["d", "64 40 0a 00 00 00 00 00 00"],
  ["d2", "64 40 00 00 00 00 00 00 00"],
  ["D", "44 02 ff ff 85 49"],
  ["S", "53 00 00 00 06 68 c3 a9 6c 6c 6f"],
  ["x", "78 00 00 00 03 00 ff 01"],
  ["A", "41 00 00 00 0b 49 00 00 00 01 53 00 00 00 01 61"],
  ["T", "54 00 00 00 00 65 53 f1 00"],
  ["F", "46 00 00 00 04 01 6b 74 01"],
  ["V", "56"],
];

function entryBytes(key: string, value: string): Uint8Array {
  const k = new TextEncoder().encode(key);
  return Uint8Array.of(k.length, ...k, ...hex(value));
}

/** The body (entries) of the every-tag table, and the offsets at which each entry ends. */
function everyTagBody(): { body: Uint8Array; ends: number[] } {
  const parts = EVERY_TAG_ENTRIES.map(([k, v]) => entryBytes(k, v));
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  const ends: number[] = [];
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
    ends.push(at);
  }
  return { body, ends };
}

function withLength(body: Uint8Array, declared = body.length): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, declared);
  out.set(body, 4);
  return out;
}

const EVERY_TAG_TABLE: FieldTable = {
  t: true,
  b: new TypedField("b", -5),
  B: new TypedField("B", 250),
  s: new TypedField("s", -2),
  u: new TypedField("u", 65000),
  I: -123456,
  i: new TypedField("i", 4000000000),
  l: new TypedField("l", -(2 ** 40) - 7),
  L: new TypedField("L", 2 ** 40 + 1),
  f: new TypedField("f", 1.5),
  d: 3.25,
  d2: new TypedField("d", 2),
  D: new TypedField("D", { scale: 2, value: -31415 }),
  S: "héllo",
  x: Uint8Array.of(0, 255, 1),
  A: [1, "a"],
  T: new Date(1700000000 * 1000),
  F: { k: true },
  V: null,
};

Deno.test("Reader.table() decodes a table holding every tag", () => {
  const bytes = withLength(everyTagBody().body);
  assert.deepStrictEqual(decodeTable(bytes), EVERY_TAG_TABLE);
});

Deno.test("Writer.table() re-encodes a decoded table holding every tag byte for byte", () => {
  const bytes = withLength(everyTagBody().body);
  const decoded = decodeTable(bytes);
  assert.equal(toHex(encodeTable(decoded)), toHex(bytes));
  // And once more, through a second decode.
  assert.equal(toHex(encodeTable(decodeTable(encodeTable(decoded)))), toHex(bytes));
});

Deno.test("Writer.table() writes an empty, undefined or null table as a zero length", () => {
  assert.equal(toHex(encodeTable({})), "00 00 00 00");
  const w = new Writer();
  w.table(undefined);
  w.table(null);
  assert.equal(toHex(w.written()), "00 00 00 00 00 00 00 00");
});

Deno.test("Reader.table() returns the shared EMPTY_TABLE for an empty table", () => {
  assert.equal(new Reader().reset(hex("00 00 00 00")).table(), EMPTY_TABLE);
  assert.ok(Object.isFrozen(EMPTY_TABLE));
  assert.deepStrictEqual(Object.keys(EMPTY_TABLE), []);
});

Deno.test("Writer.table() and Reader.table() round-trip nested tables and arrays", () => {
  const nested: FieldTable = {
    "x-death": [
      {
        count: int64(3),
        reason: "expired",
        queue: "q1",
        time: new Date(1600000000000),
        "routing-keys": ["a", "b", []],
        exchange: "",
      },
      { count: int64(1), reason: "rejected", inner: { deeper: { deepest: [[[null]], { z: false }] } } },
    ],
    empty: {},
    emptyArray: [],
    mixed: [true, new TypedField("u", 7), Uint8Array.of(9), -1.5, { a: [{ b: "ü" }] }],
    "ключ": "значение",
  };
  const bytes = encodeTable(nested);
  const decoded = decodeTable(bytes);
  assert.deepStrictEqual(decoded, nested);
  assert.equal(toHex(encodeTable(decoded)), toHex(bytes));
});

Deno.test("Writer.table() writes nested lengths exactly", () => {
  // {a: [{}]} : key "a", A, array of one F with an empty table.
  assert.equal(
    toHex(encodeTable({ a: [{}] })),
    "00 00 00 0c 01 61 41 00 00 00 05 46 00 00 00 00",
  );
  assert.equal(toHex(encodeTable({ a: { b: null } })), "00 00 00 0a 01 61 46 00 00 00 03 01 62 56");
});

Deno.test("Reader.fieldValue() throws SYNTAX_ERROR for an unknown tag", () => {
  for (const tag of ["5a", "00", "55", "4e", "ff"]) {
    const err = assertAmqpError(() => decodeValue(hex(tag)), 502, "SYNTAX_ERROR");
    assert.equal(err.hard, true);
  }
  const err = assertAmqpError(() => decodeTable(hex("00 00 00 03 01 61 5a")), 502, "SYNTAX_ERROR");
  assert.equal(err.message, "SYNTAX_ERROR - unknown field table type 'Z' (0x5a)");
});

Deno.test("Reader.table() throws FRAME_ERROR for a table truncated at every offset", () => {
  const bytes = withLength(everyTagBody().body);
  for (let cut = 0; cut < bytes.length; cut++) {
    assertAmqpError(() => new Reader().reset(bytes.subarray(0, cut)).table(), 501, "FRAME_ERROR");
  }
});

Deno.test("Reader.table() throws FRAME_ERROR when its declared length cuts an entry short", () => {
  const { body, ends } = everyTagBody();
  const entryEnds = new Set([0, ...ends]);
  let decodedPrefixes = 0;
  for (let cut = 0; cut <= body.length; cut++) {
    // The table claims `cut` bytes and the buffer holds them, plus trailing bytes outside the table.
    const bytes = withLength(body, cut);
    const r = new Reader().reset(bytes);
    if (entryEnds.has(cut)) {
      const t = r.table();
      const keys = EVERY_TAG_ENTRIES.slice(0, ends.filter((e) => e <= cut).length).map(([k]) => k);
      assert.deepStrictEqual(Object.keys(t), keys, `cut ${cut}`);
      assert.equal(r.offset, 4 + cut);
      decodedPrefixes++;
    } else {
      assertAmqpError(() => r.table(), 501, "FRAME_ERROR");
    }
  }
  assert.equal(decodedPrefixes, EVERY_TAG_ENTRIES.length + 1);
});

Deno.test("Reader.fieldValue() throws FRAME_ERROR for every value truncated at every offset", () => {
  for (const c of TAG_CASES) {
    const bytes = hex(c.bytes);
    for (let cut = 0; cut < bytes.length; cut++) {
      assertAmqpError(() => new Reader().reset(bytes.subarray(0, cut)).fieldValue(), 501, "FRAME_ERROR");
    }
  }
});

Deno.test("Reader.array() does not let a value run past the end of its array", () => {
  // Array claims 6 bytes; its S value claims 5 bytes of content, which lie past the array's end
  // although the buffer holds them.
  assertAmqpError(
    () => new Reader().reset(hex("00 00 00 06 53 00 00 00 05 61 62 63 64 65")).array(),
    501,
    "FRAME_ERROR",
  );
  assert.deepStrictEqual(new Reader().reset(hex("00 00 00 05 49 00 00 00 07")).array(), [7]);
});

Deno.test("Reader.table() does not let a value run past the end of its table", () => {
  assertAmqpError(
    () => new Reader().reset(hex("00 00 00 04 01 61 49 00 00 00 00 07")).table(),
    501,
    "FRAME_ERROR",
  );
});

Deno.test("Reader.table() restores the outer bound after a nested table", () => {
  // Outer table {a: {b: null}, c: 1}; reading c needs the outer end back in place.
  const bytes = encodeTable({ a: { b: null }, c: 1 });
  assert.deepStrictEqual(decodeTable(bytes), { a: { b: null }, c: 1 });
  // Followed by a value outside the table.
  const r = new Reader().reset(Uint8Array.of(...bytes, 0x56));
  r.table();
  assert.equal(r.fieldValue(), null);
  assert.equal(r.remaining, 0);
});

Deno.test("Reader.table() results do not alias the input buffer", () => {
  const table: FieldTable = {
    key: "value",
    bytes: Uint8Array.of(1, 2, 3),
    arr: [Uint8Array.of(4, 5), "s"],
    nested: { inner: Uint8Array.of(6) },
  };
  const input = encodeTable(table);
  const decoded = decodeTable(input);
  input.fill(0xaa);
  assert.deepStrictEqual(decoded, table);
  const bytes = decoded.bytes as Uint8Array;
  assert.notEqual(bytes.buffer, input.buffer);
});

Deno.test("TypedField.valueOf() gives the number, decimals scaled", () => {
  assert.equal(new TypedField("D", { scale: 2, value: -31415 }).valueOf(), -314.15);
  assert.equal(new TypedField("u", 7).valueOf(), 7);
  assert.equal(int64(5).type, "l");
  assert.equal(int64(5).value, 5);
});
