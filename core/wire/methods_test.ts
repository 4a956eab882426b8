import assert from "node:assert/strict";
import { AmqpError } from "../errors.ts";
import { FRAME, PROTOCOL_HEADER } from "./constants.ts";
import type { FieldTable } from "./field_table.ts";
import { FrameDecoder } from "./frame_decoder.ts";
import {
  type AnyMethod,
  CLASS,
  CONTENT_METHODS,
  decodeMethod,
  encodeMethod,
  METHOD,
  METHOD_NAMES,
} from "./methods.ts";
import { decodeProperties, writeProperties } from "./properties.ts";
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

// ---- The spec, read independently of the generator ----

interface SpecArg {
  name: string;
  type?: string;
  domain?: string;
}
interface SpecMethod {
  name: string;
  id: number;
  arguments: SpecArg[];
  content?: boolean;
}
interface SpecClass {
  name: string;
  id: number;
  methods: SpecMethod[];
}
// The spec at `new URL("../../../shared/spec/amqp-rabbitmq-0.9.1.json", import.meta.url)`, imported as a
// module so that a plain `deno test` (no --allow-read) can load it.
const spec = specJson as unknown as { domains: [string, string][]; classes: SpecClass[] };
const domains = new Map(spec.domains);
const BINARY = new Set(["response", "challenge", "new-secret"]);

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const constName = (cls: string, m: string) => `${cls}_${m}`.replace(/-/g, "_").toUpperCase();
function argType(a: SpecArg): string {
  const t = a.type ?? domains.get(a.domain!);
  assert.ok(t, `type of ${a.name}`);
  return t === "longstr" && BINARY.has(a.name) ? "bytes" : t;
}

interface MethodSpec {
  cls: SpecClass;
  method: SpecMethod;
  key: string;
  id: number;
}
const SPEC_METHODS: MethodSpec[] = spec.classes.flatMap((cls) =>
  cls.methods.map((method) => ({
    cls,
    method,
    key: constName(cls.name, method.name),
    id: (cls.id << 16) | method.id,
  }))
);
const SPEC_BY_ID = new Map(SPEC_METHODS.map((m) => [m.id, m]));

/**
 * A sample argument object with non-default values: every field gets a value distinct from the
 * others (so swapped fields are caught), and bits follow `bitPattern` by position.
 */
function sample(m: MethodSpec, bitPattern: (i: number) => boolean): AnyMethod {
  const out: Record<string, unknown> = { id: m.id };
  let bit = 0;
  m.method.arguments.forEach((a, i) => {
    const field = camel(a.name);
    switch (argType(a)) {
      case "bit":
        out[field] = bitPattern(bit++);
        break;
      case "octet":
        out[field] = 0x80 + i;
        break;
      case "short":
        out[field] = 0xa000 + i * 0x101;
        break;
      case "long":
        out[field] = 0xc0000000 + i; // above int32: must stay unsigned
        break;
      case "longlong":
      case "timestamp":
        out[field] = 2 ** 52 + 2 ** 33 + i;
        break;
      case "shortstr":
        out[field] = `${a.name}-ш${i}`;
        break;
      case "longstr":
        out[field] = `long ${a.name} ✓ ${i}`;
        break;
      case "bytes":
        out[field] = Uint8Array.of(0, 0xff, 0xc3, 0x28, i); // not valid UTF-8
        break;
      case "table":
        out[field] = { [`x-${a.name}`]: i + 1, nested: { flag: true, list: ["a", 2] } } satisfies FieldTable;
        break;
      default:
        throw new Error(`unhandled type ${argType(a)} in ${m.key}`);
    }
  });
  return out as unknown as AnyMethod;
}

function encode(m: AnyMethod): Uint8Array {
  const w = new Writer(8);
  encodeMethod(w, m);
  return w.written().slice();
}

function decode(bytes: Uint8Array): AnyMethod {
  const r = new Reader().reset(bytes);
  const m = decodeMethod(r);
  assert.equal(r.remaining, 0, "payload fully consumed");
  return m;
}

/** An encoder written straight from the spec, independent of the generated code. */
function referenceEncode(m: MethodSpec, args: Record<string, unknown>): Uint8Array {
  const w = new Writer(8);
  w.short(m.cls.id);
  w.short(m.method.id);
  let bits: boolean[] = [];
  const flush = () => {
    for (let i = 0; i < bits.length; i += 8) {
      let octet = 0;
      bits.slice(i, i + 8).forEach((b, j) => {
        if (b) octet |= 1 << j;
      });
      w.octet(octet);
    }
    bits = [];
  };
  for (const a of m.method.arguments) {
    const v = args[camel(a.name)];
    const t = argType(a);
    if (t === "bit") {
      bits.push(v as boolean);
      continue;
    }
    flush();
    switch (t) {
      case "octet":
        w.octet(v as number);
        break;
      case "short":
        w.short(v as number);
        break;
      case "long":
        w.long(v as number);
        break;
      case "longlong":
      case "timestamp":
        w.longlong(v as number);
        break;
      case "shortstr":
        w.shortstr(v as string);
        break;
      case "longstr":
        w.longstr(v as string);
        break;
      case "bytes":
        w.longstrBytes(v as Uint8Array);
        break;
      case "table":
        w.table(v as FieldTable);
        break;
    }
  }
  flush();
  return w.written().slice();
}

const PATTERNS: [string, (i: number) => boolean][] = [
  ["even bits set", (i) => i % 2 === 0],
  ["odd bits set", (i) => i % 2 === 1],
  ["all bits set", () => true],
  ["no bits set", () => false],
];

// ---- Tables of ids and names ----

Deno.test("METHOD lists every method of the spec with id classId << 16 | methodId", () => {
  assert.deepStrictEqual(
    Object.entries(METHOD).sort((a, b) => a[1] - b[1]),
    SPEC_METHODS.map((m) => [m.key, m.id] as [string, number]).sort((a, b) => a[1] - b[1]),
  );
  assert.equal(Object.keys(METHOD).length, 66);
  assert.equal(METHOD.BASIC_PUBLISH, 0x003c0028);
  assert.equal(METHOD.EXCHANGE_UNBIND_OK, (40 << 16) | 51);
  assert.equal(METHOD.CONFIRM_SELECT, (85 << 16) | 10);
});

Deno.test("CLASS lists every class id of the spec", () => {
  assert.deepStrictEqual(
    Object.entries(CLASS),
    spec.classes.map((c) => [c.name.toUpperCase(), c.id]),
  );
});

Deno.test("METHOD_NAMES names every method class.method", () => {
  for (const m of SPEC_METHODS) assert.equal(METHOD_NAMES[m.id], `${m.cls.name}.${m.method.name}`);
  assert.equal(Object.keys(METHOD_NAMES).length, SPEC_METHODS.length);
  assert.equal(METHOD_NAMES[METHOD.BASIC_RECOVER_ASYNC], "basic.recover-async");
});

Deno.test("CONTENT_METHODS holds exactly the methods that carry content", () => {
  assert.deepStrictEqual(
    [...CONTENT_METHODS].sort(),
    [METHOD.BASIC_PUBLISH, METHOD.BASIC_RETURN, METHOD.BASIC_DELIVER, METHOD.BASIC_GET_OK].sort(),
  );
  assert.deepStrictEqual(
    [...CONTENT_METHODS].sort(),
    SPEC_METHODS.filter((m) => m.method.content).map((m) => m.id).sort(),
  );
});

// ---- Every method ----

Deno.test("encodeMethod() and decodeMethod() round-trip every method in METHOD", () => {
  let count = 0;
  for (const [key, id] of Object.entries(METHOD)) {
    const m = SPEC_BY_ID.get(id);
    assert.ok(m, `${key} is in the spec`);
    for (const [label, pattern] of PATTERNS) {
      const args = sample(m, pattern);
      const bytes = encode(args);
      assert.equal(toHex(bytes.subarray(0, 4)), toHex(hex(id.toString(16).padStart(8, "0"))), key);
      assert.deepStrictEqual(decode(bytes), args, `${key} (${label})`);
    }
    count++;
  }
  assert.equal(count, SPEC_METHODS.length);
});

Deno.test("encodeMethod() matches a spec-driven reference encoding for every method", () => {
  for (const [key, id] of Object.entries(METHOD)) {
    const m = SPEC_BY_ID.get(id)!;
    for (const [label, pattern] of PATTERNS) {
      const args = sample(m, pattern);
      assert.equal(
        toHex(encode(args)),
        toHex(referenceEncode(m, args as unknown as Record<string, unknown>)),
        `${key} (${label})`,
      );
    }
  }
});

Deno.test("decodeMethod() returns exactly the spec's fields for every method", () => {
  for (const m of SPEC_METHODS) {
    const decoded = decode(encode(sample(m, () => true)));
    assert.deepStrictEqual(
      Object.keys(decoded),
      ["id", ...m.method.arguments.map((a) => camel(a.name))],
      m.key,
    );
  }
});

Deno.test("decodeMethod() throws FRAME_ERROR for every method truncated at every offset", () => {
  for (const m of SPEC_METHODS) {
    const bytes = encode(sample(m, (i) => i % 2 === 0));
    for (let cut = 0; cut < bytes.length; cut++) {
      assertAmqpError(() => decodeMethod(new Reader().reset(bytes.subarray(0, cut))), 501, "FRAME_ERROR");
    }
  }
});

Deno.test("decodeMethod() throws COMMAND_INVALID for an unknown class or method", () => {
  const cases: [string, string][] = [
    ["00 0a 00 63", "class 10, method 99"], // connection.99
    ["00 63 00 0a", "class 99, method 10"], // class 99
    ["00 55 00 14", "class 85, method 20"], // confirm.20 (a tx method id)
    ["00 00 00 00", "class 0, method 0"],
    ["ff ff ff ff", "class 65535, method 65535"],
  ];
  for (const [bytes, what] of cases) {
    const err = assertAmqpError(() => decodeMethod(new Reader().reset(hex(bytes))), 503, "COMMAND_INVALID");
    assert.equal(err.message, `COMMAND_INVALID - unknown method: ${what}`);
    assert.equal(err.hard, true);
  }
});

Deno.test("decodeMethod() reads a payload lying at a non-zero offset in a larger buffer", () => {
  const payload = encode({ id: METHOD.BASIC_ACK, deliveryTag: 77, multiple: true });
  const backing = new Uint8Array(payload.length + 10).fill(0xee);
  backing.set(payload, 5);
  assert.deepStrictEqual(decodeMethod(new Reader().reset(backing.subarray(5, 5 + payload.length))), {
    id: METHOD.BASIC_ACK,
    deliveryTag: 77,
    multiple: true,
  });
});

Deno.test("decodeMethod() results do not alias the payload", () => {
  const args = sample(SPEC_BY_ID.get(METHOD.CONNECTION_START_OK)!, () => true);
  const bytes = encode(args);
  const decoded = decode(bytes);
  bytes.fill(0);
  assert.deepStrictEqual(decoded, args);
});

// ---- Golden bytes, as real clients and servers send them ----

/** Builds one method frame with Writer + encodeMethod. */
function methodFrame(channel: number, m: AnyMethod): Uint8Array {
  const w = new Writer(16);
  const at = w.beginFrame(FRAME.METHOD, channel);
  encodeMethod(w, m);
  w.endFrame(at);
  return w.written().slice();
}

/** Splits a frame with FrameDecoder, checking it is exactly one frame. */
function parseFrame(bytes: Uint8Array): { type: number; channel: number; payload: Uint8Array } {
  const frames: { type: number; channel: number; payload: Uint8Array }[] = [];
  new FrameDecoder(131072).push(bytes, {
    onFrame(type, channel, payload) {
      frames.push({ type, channel, payload: payload.slice() });
      return true;
    },
  });
  assert.equal(frames.length, 1);
  return frames[0];
}

const GOLDEN: { name: string; channel: number; method: AnyMethod; frame: string }[] = [
  {
    name: "basic.publish to the default exchange, routing key q",
    channel: 1,
    method: {
      id: METHOD.BASIC_PUBLISH,
      ticket: 0,
      exchange: "",
      routingKey: "q",
      mandatory: false,
      immediate: false,
    },
    frame: "01 0001 0000000a 003c 0028 0000 00 01 71 00 ce",
  },
  {
    name: "basic.publish mandatory to amq.direct",
    channel: 2,
    method: {
      id: METHOD.BASIC_PUBLISH,
      ticket: 0,
      exchange: "amq.direct",
      routingKey: "rk",
      mandatory: true,
      immediate: false,
    },
    frame: "01 0002 00000015 003c 0028 0000 0a 616d712e646972656374 02 726b 01 ce",
  },
  {
    name: "channel.open",
    channel: 1,
    method: { id: METHOD.CHANNEL_OPEN, outOfBand: "" },
    frame: "01 0001 00000005 0014 000a 00 ce",
  },
  {
    name: "channel.open-ok",
    channel: 1,
    method: { id: METHOD.CHANNEL_OPEN_OK, channelId: "" },
    frame: "01 0001 00000008 0014 000b 00000000 ce",
  },
  {
    name: "basic.ack delivery tag 5, multiple",
    channel: 1,
    method: { id: METHOD.BASIC_ACK, deliveryTag: 5, multiple: true },
    frame: "01 0001 0000000d 003c 0050 0000000000000005 01 ce",
  },
  {
    name: "basic.nack delivery tag 9, not multiple, requeue",
    channel: 3,
    method: { id: METHOD.BASIC_NACK, deliveryTag: 9, multiple: false, requeue: true },
    frame: "01 0003 0000000d 003c 0078 0000000000000009 02 ce",
  },
  {
    name: "basic.qos prefetch-count 10",
    channel: 1,
    method: { id: METHOD.BASIC_QOS, prefetchSize: 0, prefetchCount: 10, global: false },
    frame: "01 0001 0000000b 003c 000a 00000000 000a 00 ce",
  },
  {
    name: "queue.declare durable q",
    channel: 1,
    method: {
      id: METHOD.QUEUE_DECLARE,
      ticket: 0,
      queue: "q",
      passive: false,
      durable: true,
      exclusive: false,
      autoDelete: false,
      nowait: false,
      arguments: {},
    },
    frame: "01 0001 0000000d 0032 000a 0000 01 71 02 00000000 ce",
  },
  {
    name: "queue.declare exclusive, auto-delete, x-max-length 10",
    channel: 1,
    method: {
      id: METHOD.QUEUE_DECLARE,
      ticket: 0,
      queue: "",
      passive: false,
      durable: false,
      exclusive: true,
      autoDelete: true,
      nowait: false,
      arguments: { "x-max-length": 10 },
    },
    frame: "01 0001 0000001e 0032 000a 0000 00 0c 00000012 0c 782d6d61782d6c656e677468 49 0000000a ce",
  },
  {
    name: "basic.deliver",
    channel: 1,
    method: {
      id: METHOD.BASIC_DELIVER,
      consumerTag: "ctag",
      deliveryTag: 1,
      redelivered: true,
      exchange: "",
      routingKey: "q",
    },
    frame: "01 0001 00000015 003c 003c 04 63746167 0000000000000001 01 00 01 71 ce",
  },
  {
    name: "connection.tune-ok",
    channel: 0,
    method: { id: METHOD.CONNECTION_TUNE_OK, channelMax: 2047, frameMax: 131072, heartbeat: 60 },
    frame: "01 0000 0000000c 000a 001f 07ff 00020000 003c ce",
  },
  {
    name: "connection.open vhost /",
    channel: 0,
    method: { id: METHOD.CONNECTION_OPEN, virtualHost: "/", capabilities: "", insist: false },
    frame: "01 0000 00000008 000a 0028 01 2f 00 00 ce",
  },
  {
    name: "connection.start-ok PLAIN guest/guest",
    channel: 0,
    method: {
      id: METHOD.CONNECTION_START_OK,
      clientProperties: { product: "x" },
      mechanism: "PLAIN",
      response: new TextEncoder().encode("\0guest\0guest"),
      locale: "en_US",
    },
    frame: "01 0000 00000032 000a 000b 0000000e 07 70726f64756374 53 00000001 78 05 504c41494e " +
      "0000000c 00 6775657374 00 6775657374 05 656e5f5553 ce",
  },
  {
    name: "connection.close 200 Goodbye",
    channel: 0,
    method: { id: METHOD.CONNECTION_CLOSE, replyCode: 200, replyText: "Goodbye", classId: 0, methodId: 0 },
    frame: "01 0000 00000012 000a 0032 00c8 07 476f6f64627965 0000 0000 ce",
  },
  {
    name: "connection.close-ok",
    channel: 0,
    method: { id: METHOD.CONNECTION_CLOSE_OK },
    frame: "01 0000 00000004 000a 0033 ce",
  },
  {
    name: "confirm.select",
    channel: 1,
    method: { id: METHOD.CONFIRM_SELECT, nowait: false },
    frame: "01 0001 00000005 0055 000a 00 ce",
  },
];

Deno.test("encodeMethod() writes the golden bytes of real client and server frames", () => {
  for (const g of GOLDEN) assert.equal(toHex(methodFrame(g.channel, g.method)), toHex(hex(g.frame)), g.name);
});

Deno.test("decodeMethod() parses the golden bytes of real client and server frames", () => {
  for (const g of GOLDEN) {
    const f = parseFrame(hex(g.frame));
    assert.equal(f.type, FRAME.METHOD, g.name);
    assert.equal(f.channel, g.channel, g.name);
    assert.deepStrictEqual(decode(f.payload), g.method, g.name);
  }
});

Deno.test("PROTOCOL_HEADER is AMQP 0 0 9 1", () => {
  assert.equal(toHex(PROTOCOL_HEADER), "41 4d 51 50 00 00 09 01");
  assert.equal(new TextDecoder().decode(PROTOCOL_HEADER.subarray(0, 4)), "AMQP");
});

Deno.test("Writer.beginFrame() writes the golden heartbeat frame", () => {
  const w = new Writer();
  w.endFrame(w.beginFrame(FRAME.HEARTBEAT, 0));
  assert.equal(toHex(w.written()), "08 00 00 00 00 00 00 ce");
  const f = parseFrame(hex("08 00 00 00 00 00 00 ce"));
  assert.deepStrictEqual(f, { type: 8, channel: 0, payload: new Uint8Array(0) });
});

Deno.test("writeProperties() writes the golden content header frame", () => {
  // Content header: class 60, weight 0, body size 5, flags content-type | delivery-mode.
  const golden = "02 0001 0000001a 003c 0000 0000000000000005 9000 0a 746578742f706c61696e 02 ce";
  const w = new Writer();
  const at = w.beginFrame(FRAME.HEADER, 1);
  w.short(CLASS.BASIC);
  w.short(0);
  w.longlong(5);
  writeProperties(w, { contentType: "text/plain", deliveryMode: 2 });
  w.endFrame(at);
  assert.equal(toHex(w.written()), toHex(hex(golden)));

  const f = parseFrame(hex(golden));
  assert.equal(f.type, FRAME.HEADER);
  assert.equal(f.channel, 1);
  const r = new Reader().reset(f.payload);
  assert.equal(r.short(), 60);
  assert.equal(r.short(), 0);
  assert.equal(r.longlong(), 5);
  assert.deepStrictEqual(decodeProperties(f.payload.subarray(12)), {
    contentType: "text/plain",
    deliveryMode: 2,
  });
});
