import assert from "node:assert/strict";
import { AmqpError } from "../errors.ts";
import {
  type BasicProperties,
  decodeProperties,
  PROPERTY_FLAG,
  readProperties,
  writeProperties,
} from "./properties.ts";
import { Reader } from "./reader.ts";
import { Writer } from "./writer.ts";
import specJson from "../../../shared/spec/amqp-rabbitmq-0.9.1.json" with { type: "json" };

function hex(s: string): Uint8Array {
  const digits = s.replace(/\s+/g, "");
  return Uint8Array.from(digits.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
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

function encode(p: BasicProperties): Uint8Array {
  const w = new Writer(4);
  writeProperties(w, p);
  return w.written().slice();
}

type Key = keyof BasicProperties;

/** Every property in wire order: a sample value, its flag bit and its hand-written wire bytes. */
const PROPS: { key: Key; value: BasicProperties[Key]; bit: number; bytes: string }[] = [
  { key: "contentType", value: "text/plain", bit: 15, bytes: "0a 74 65 78 74 2f 70 6c 61 69 6e" },
  { key: "contentEncoding", value: "gzip", bit: 14, bytes: "04 67 7a 69 70" },
  {
    key: "headers",
    value: { a: 1, b: "é" },
    bit: 13,
    bytes: "00 00 00 10 01 61 49 00 00 00 01 01 62 53 00 00 00 02 c3 a9",
  },
  { key: "deliveryMode", value: 2, bit: 12, bytes: "02" },
  { key: "priority", value: 9, bit: 11, bytes: "09" },
  { key: "correlationId", value: "c1", bit: 10, bytes: "02 63 31" },
  { key: "replyTo", value: "rq", bit: 9, bytes: "02 72 71" },
  { key: "expiration", value: "60000", bit: 8, bytes: "05 36 30 30 30 30" },
  { key: "messageId", value: "m-1", bit: 7, bytes: "03 6d 2d 31" },
  { key: "timestamp", value: 1700000000, bit: 6, bytes: "00 00 00 00 65 53 f1 00" },
  { key: "type", value: "t", bit: 5, bytes: "01 74" },
  { key: "userId", value: "guest", bit: 4, bytes: "05 67 75 65 73 74" },
  { key: "appId", value: "app", bit: 3, bytes: "03 61 70 70" },
  { key: "clusterId", value: "cl", bit: 2, bytes: "02 63 6c" },
];

function flagHex(flags: number): string {
  return toHex(Uint8Array.of(flags >> 8, flags & 0xff));
}

Deno.test("PROPERTY_FLAG puts content-type at bit 15 down to cluster-id at bit 2, in spec order", () => {
  const basic = specJson.classes.find((c) => c.name === "basic")!;
  const names = (basic.properties ?? []).map((p) => p.name);
  assert.equal(names.length, 14);
  assert.deepStrictEqual(
    Object.entries(PROPERTY_FLAG),
    names.map((n, i) => [n.replace(/-/g, "_").toUpperCase(), 1 << (15 - i)]),
  );
  assert.equal(PROPERTY_FLAG.CONTENT_TYPE, 0x8000);
  assert.equal(PROPERTY_FLAG.DELIVERY_MODE, 0x1000);
  assert.equal(PROPERTY_FLAG.TIMESTAMP, 0x0040);
  assert.equal(PROPERTY_FLAG.CLUSTER_ID, 0x0004);
  // The test table follows the same order.
  assert.deepStrictEqual(
    PROPS.map((p) => p.key),
    names.map((n) => n.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())),
  );
});

Deno.test("writeProperties() writes all 14 properties with flags 0xfffc, in order", () => {
  const all: BasicProperties = {};
  for (const p of PROPS) Object.assign(all, { [p.key]: p.value });
  const expected = "ff fc " + PROPS.map((p) => p.bytes).join(" ");
  assert.equal(toHex(encode(all)), expected);
});

Deno.test("decodeProperties() reads all 14 properties", () => {
  const all: BasicProperties = {};
  for (const p of PROPS) Object.assign(all, { [p.key]: p.value });
  const bytes = hex("ff fc " + PROPS.map((p) => p.bytes).join(" "));
  assert.deepStrictEqual(decodeProperties(bytes), all);
  assert.deepStrictEqual(decodeProperties(encode(all)), all);
});

Deno.test("writeProperties() and decodeProperties() handle each property alone", () => {
  for (const p of PROPS) {
    const props = { [p.key]: p.value } as BasicProperties;
    const expected = `${flagHex(1 << p.bit)} ${p.bytes}`;
    assert.equal(toHex(encode(props)), expected, p.key);
    const decoded = decodeProperties(hex(expected));
    assert.deepStrictEqual(decoded, props, p.key);
    assert.deepStrictEqual(Object.keys(decoded), [p.key]);
  }
});

Deno.test("writeProperties() and decodeProperties() handle every pair of properties", () => {
  for (let i = 0; i < PROPS.length; i++) {
    for (let j = i + 1; j < PROPS.length; j++) {
      const a = PROPS[i];
      const b = PROPS[j];
      const props = { [a.key]: a.value, [b.key]: b.value } as BasicProperties;
      const expected = `${flagHex((1 << a.bit) | (1 << b.bit))} ${a.bytes} ${b.bytes}`;
      assert.equal(toHex(encode(props)), expected, `${a.key} + ${b.key}`);
      assert.deepStrictEqual(decodeProperties(hex(expected)), props);
    }
  }
});

Deno.test("writeProperties() and decodeProperties() handle no properties", () => {
  assert.equal(toHex(encode({})), "00 00");
  assert.deepStrictEqual(decodeProperties(hex("00 00")), {});
});

Deno.test("writeProperties() leaves out properties set to undefined", () => {
  assert.equal(toHex(encode({ contentType: undefined, priority: 0, headers: undefined })), "08 00 00");
});

Deno.test("writeProperties() writes empty strings and an empty headers table", () => {
  assert.equal(toHex(encode({ contentType: "", headers: {} })), "a0 00 00 00 00 00 00");
  assert.deepStrictEqual(decodeProperties(hex("a0 00 00 00 00 00 00")), { contentType: "", headers: {} });
});

Deno.test("readProperties() ignores the continuation bit and stops after the list", () => {
  const r = new Reader().reset(hex("80 01 01 78 ee ff"));
  assert.deepStrictEqual(readProperties(r), { contentType: "x" });
  assert.equal(r.offset, 4);
  assert.equal(r.remaining, 2);
});

Deno.test("readProperties() ignores flag bits 1 and 0 with no list bytes", () => {
  assert.deepStrictEqual(decodeProperties(hex("00 03")), {});
});

Deno.test("decodeProperties() reads a view at a non-zero byte offset", () => {
  const backing = hex("ee ee 18 00 02 05 ee");
  assert.deepStrictEqual(decodeProperties(backing.subarray(2, 6)), { deliveryMode: 2, priority: 5 });
});

Deno.test("decodeProperties() throws FRAME_ERROR when truncated at every offset", () => {
  const bytes = hex("ff fc " + PROPS.map((p) => p.bytes).join(" "));
  for (let cut = 0; cut < bytes.length; cut++) {
    assertAmqpError(() => decodeProperties(bytes.subarray(0, cut)), 501, "FRAME_ERROR");
  }
});

Deno.test("decodeProperties() rejects a timestamp of 2^53 or more with SYNTAX_ERROR", () => {
  assertAmqpError(() => decodeProperties(hex("00 40 00 20 00 00 00 00 00 00")), 502, "SYNTAX_ERROR");
});

Deno.test("writeProperties() rejects a timestamp above 2^53 - 1 or negative", () => {
  assert.throws(() => encode({ timestamp: 2 ** 53 }), RangeError);
  assert.throws(() => encode({ timestamp: -1 }), RangeError);
});

Deno.test("decodeProperties() headers and strings do not alias the input", () => {
  const props: BasicProperties = { contentType: "a/b", headers: { bin: Uint8Array.of(1, 2), s: "x" } };
  const bytes = encode(props);
  const decoded = decodeProperties(bytes);
  bytes.fill(0);
  assert.deepStrictEqual(decoded, props);
});
