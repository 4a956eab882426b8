import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { Message } from "../../core/broker/message.ts";
import { decodeProperties, writeProperties } from "../../core/wire/properties.ts";
import { Writer } from "../../core/wire/writer.ts";
import {
  decodeRecord,
  encodeEntry,
  encodeKv,
  encodeRecord,
  ENTRY_DELIVERED,
  ENTRY_ENQUEUED,
  ENTRY_REMOVED,
  ENTRY_SIZE,
  entryIntact,
  FORMAT_VERSION,
  journalHeader,
  KV_DELETE,
  KV_HEADER_SIZE,
  KV_SET,
  kvHeader,
  readJournalHeader,
  RECORD_HEADER_SIZE,
  recordSize,
  replayKv,
  SEGMENT_HEADER_SIZE,
  segmentHeader,
  segmentHeaderProblem,
  segmentName,
} from "./format.ts";

const enc = new TextEncoder();

function props(p: Parameters<typeof writeProperties>[1]): Uint8Array {
  const w = new Writer(64);
  writeProperties(w, p);
  return w.bytes.slice(0, w.offset);
}

function message(exchange: string, routingKey: string, body: Uint8Array, p = props({ deliveryMode: 2 })) {
  return new Message(exchange, routingKey, p, body);
}

/** A record for `m` in a buffer of its own, with `pad` bytes of room around it. */
function encoded(m: Message, pad = 0): Uint8Array {
  const size = recordSize(m);
  const b = new Uint8Array(size + 2 * pad).fill(0xee);
  encodeRecord(m, b, pad);
  return b.subarray(pad, pad + size);
}

const SAMPLES: Message[] = [
  message("", "q", new Uint8Array(0), props({})),
  message("amq.direct", "key", enc.encode("hello"), props({ deliveryMode: 2, contentType: "text/plain" })),
  message(
    "ex-ünïcødé-交換",
    "rk.😀.#",
    new Uint8Array(300_000).map((_, i) => i * 31),
    props({
      deliveryMode: 2,
      priority: 7,
      messageId: "id-1",
      correlationId: "c",
      timestamp: 1_700_000_000,
      headers: { a: 1, nested: { b: "two" }, list: [1, "x", true] },
      expiration: "60000",
      userId: "guest",
      appId: "app",
      type: "t",
      replyTo: "r",
      contentEncoding: "gzip",
      clusterId: "cl",
    }),
  ),
  message("x".repeat(255), "y".repeat(255), enc.encode("max-length names")),
];

Deno.test("encodeRecord() and decodeRecord() round-trip exchange, routing key, raw properties and body", () => {
  for (const m of SAMPLES) {
    const b = encoded(m, 7);
    assert.equal(b.length, recordSize(m));
    const d = decodeRecord(b.slice());
    assert.ok(typeof d !== "string", String(d));
    assert.equal(d.exchange, m.exchange);
    assert.equal(d.routingKey, m.routingKey);
    assert.deepEqual(d.rawProperties, m.rawProperties);
    assert.deepEqual(decodeProperties(d.rawProperties), decodeProperties(m.rawProperties));
    assert.deepEqual(d.body, m.body);
    assert.equal(d.recordLength, b.length);
  }
});

Deno.test("encodeRecord() writes the documented header: payload length, CRC-32 of the payload, format 1, zeros", () => {
  const m = SAMPLES[1];
  const b = encoded(m);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  assert.equal(v.getUint32(0), b.length - RECORD_HEADER_SIZE);
  assert.equal(v.getUint32(4), crc32(b.subarray(RECORD_HEADER_SIZE)));
  assert.equal(b[8], FORMAT_VERSION);
  assert.equal(b[9], 0);
  assert.equal(v.getUint16(10), 0);
  // Payload: exchange shortstr, routing key shortstr, u32 properties length + properties, body.
  let p = RECORD_HEADER_SIZE;
  assert.equal(new TextDecoder().decode(b.subarray(p + 1, p + 1 + b[p])), "amq.direct");
  p += 1 + b[p];
  assert.equal(new TextDecoder().decode(b.subarray(p + 1, p + 1 + b[p])), "key");
  p += 1 + b[p];
  assert.equal(v.getUint32(p), m.rawProperties.length);
  p += 4;
  assert.deepEqual(b.subarray(p, p + m.rawProperties.length), m.rawProperties);
  assert.equal(new TextDecoder().decode(b.subarray(p + m.rawProperties.length)), "hello");
});

Deno.test("decodeRecord() finds a flipped bit anywhere in the record", () => {
  const b = encoded(SAMPLES[2]);
  const positions = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  for (let i = RECORD_HEADER_SIZE; i < b.length; i += 997) positions.push(i);
  positions.push(b.length - 1);
  for (const at of positions) {
    for (const bit of [0x01, 0x80]) {
      const copy = b.slice();
      copy[at] ^= bit;
      const d = decodeRecord(copy);
      assert.equal(typeof d, "string", `flipping bit ${bit} of byte ${at} went unnoticed`);
    }
  }
});

Deno.test("decodeRecord() names each kind of damage", () => {
  const b = encoded(SAMPLES[1]);
  assert.match(decodeRecord(b.subarray(0, 5)) as string, /shorter than its header/);
  assert.match(decodeRecord(b.subarray(0, b.length - 1)) as string, /length \d+ does not match/);
  const body = b.slice();
  body[body.length - 1] ^= 1;
  assert.match(decodeRecord(body) as string, /checksum mismatch/);
  const version = b.slice();
  version[8] = 9;
  assert.match(decodeRecord(version) as string, /unknown record format 9/);
  // A properties length running past the end, with a valid checksum (a bug, not a torn write).
  const overrun = b.slice();
  const v = new DataView(overrun.buffer);
  const at = RECORD_HEADER_SIZE + 1 + overrun[RECORD_HEADER_SIZE] + 1 + overrun[RECORD_HEADER_SIZE + 11];
  v.setUint32(at, 10_000);
  v.setUint32(4, crc32(overrun.subarray(RECORD_HEADER_SIZE)));
  assert.match(decodeRecord(overrun) as string, /properties overrun/);
});

Deno.test("decodeRecord() returns a message that owns no more than its record", () => {
  const b = encoded(SAMPLES[1]);
  const d = decodeRecord(b) as Message;
  assert.equal(d.body.buffer, b.buffer); // a view of the record read from disk, not a copy
  assert.equal(d.body.byteOffset + d.body.length, b.byteOffset + b.length);
});

Deno.test(
  "recordSize() matches what encodeRecord() writes for a routing key of U+FFFD (invalid UTF-8 on the wire)",
  () => {
    // The wire reader decodes shortstr with a non-fatal TextDecoder: 100 bytes of 0xFF arrive as 100
    // U+FFFD, 300 bytes in UTF-8. encodeRecord writes at most 255; recordSize counts all 300, so
    // the stored length disagrees with the payload and the record is dropped when read back.
    const m = message("", "\uFFFD".repeat(100), enc.encode("body"));
    const d = decodeRecord(encoded(m));
    assert.ok(typeof d !== "string", `record unreadable: ${d}`);
  },
);

Deno.test("segmentHeader() is read back by segmentHeaderProblem(); damage and mismatches are named", () => {
  const h = segmentHeader(42);
  assert.equal(h.length, SEGMENT_HEADER_SIZE);
  assert.equal(new TextDecoder().decode(h.subarray(0, 6)), "WRNSEG");
  assert.equal(segmentHeaderProblem(h, 42), null);
  assert.match(segmentHeaderProblem(h, 43)!, /names segment 42/);
  assert.match(segmentHeaderProblem(h.subarray(0, 10), 42)!, /shorter than its header/);
  const magic = h.slice();
  magic[0] = 0x58;
  assert.match(segmentHeaderProblem(magic, 42)!, /bad magic/);
  const version = h.slice();
  new DataView(version.buffer).setUint16(6, 2);
  assert.match(segmentHeaderProblem(version, 42)!, /unknown format version 2/);
  assert.equal(segmentName(7), "00000007.seg");
  assert.equal(segmentName(12345678), "12345678.seg");
});

Deno.test("journalHeader() round-trips vhost and queue names through readJournalHeader()", () => {
  for (
    const [vhost, queue] of [["/", "q"], ["", ""], ["vh-ü", "队列-😀"], ["v".repeat(300), "q".repeat(255)]]
  ) {
    const h = journalHeader(vhost, queue);
    const r = readJournalHeader(h);
    assert.ok(typeof r !== "string", String(r));
    assert.equal(r.vhost, vhost);
    assert.equal(r.queue, queue);
    assert.equal(r.size, h.length);
    // Entries after the header do not change what it says.
    const withEntries = new Uint8Array(h.length + ENTRY_SIZE);
    withEntries.set(h);
    assert.deepEqual(readJournalHeader(withEntries), r);
  }
});

Deno.test("readJournalHeader() refuses damaged headers, naming the damage", () => {
  const h = journalHeader("/", "orders");
  assert.match(readJournalHeader(new Uint8Array(0)) as string, /bad magic/);
  assert.match(readJournalHeader(h.subarray(0, 10)) as string, /bad magic/);
  assert.match(readJournalHeader(h.subarray(0, h.length - 1)) as string, /header torn/);
  for (let at = 15; at < h.length; at++) {
    const copy = h.slice();
    copy[at] ^= 0x20;
    assert.match(readJournalHeader(copy) as string, /checksum mismatch/, `byte ${at}`);
  }
  const version = h.slice();
  new DataView(version.buffer).setUint16(5, 3);
  assert.match(readJournalHeader(version) as string, /unknown format version 3/);
  const magic = h.slice();
  magic[4] = 0;
  assert.match(readJournalHeader(magic) as string, /bad magic/);
});

Deno.test("encodeEntry() writes 24 bytes that entryIntact() accepts, in the documented layout", () => {
  const b = new Uint8Array(3 * ENTRY_SIZE);
  const location = 5 * 0x1_0000_0000 + 123_456; // segment 5, offset 123456
  encodeEntry(b, 0, ENTRY_ENQUEUED, location, 1000, 900);
  encodeEntry(b, ENTRY_SIZE, ENTRY_DELIVERED, location, 1000, 0);
  encodeEntry(b, 2 * ENTRY_SIZE, ENTRY_REMOVED, 2 ** 52 + 8, 0xffff_ffff, 0);
  const v = new DataView(b.buffer);
  assert.deepEqual([b[0], b[1], b[2], b[3]], [ENTRY_ENQUEUED, 0, 0, 0]);
  assert.equal(v.getUint32(4), 5);
  assert.equal(v.getUint32(8), 123_456);
  assert.equal(v.getUint32(12), 1000);
  assert.equal(v.getUint32(16), 900);
  assert.equal(v.getUint32(20), crc32(b.subarray(0, 20)));
  assert.equal(b[ENTRY_SIZE], ENTRY_DELIVERED);
  assert.equal(b[2 * ENTRY_SIZE], ENTRY_REMOVED);
  assert.equal(
    v.getUint32(2 * ENTRY_SIZE + 4) * 0x1_0000_0000 + v.getUint32(2 * ENTRY_SIZE + 8),
    2 ** 52 + 8,
  );
  for (let i = 0; i < 3; i++) assert.ok(entryIntact(b, i * ENTRY_SIZE));
});

Deno.test("entryIntact() finds a flipped bit in any byte of an entry, and only in that entry", () => {
  const b = new Uint8Array(2 * ENTRY_SIZE);
  encodeEntry(b, 0, ENTRY_ENQUEUED, 0x1_0000_0010, 77, 50);
  encodeEntry(b, ENTRY_SIZE, ENTRY_ENQUEUED, 0x1_0000_0100, 88, 60);
  for (let at = 0; at < ENTRY_SIZE; at++) {
    const copy = b.slice();
    copy[at] ^= 0x04;
    assert.equal(entryIntact(copy, 0), false, `byte ${at}`);
    assert.equal(entryIntact(copy, ENTRY_SIZE), true);
  }
});

Deno.test("encodeKv() records replay into the map, later ones winning, deletes applied", () => {
  const log = concat([
    kvHeader(),
    encodeKv(KV_SET, "a", enc.encode("1")),
    encodeKv(KV_SET, "b", enc.encode("2")),
    encodeKv(KV_SET, "a", enc.encode("3")),
    encodeKv(KV_DELETE, "b", null),
    encodeKv(KV_SET, "ключ", new Uint8Array(0)),
  ]);
  const map = new Map<string, Uint8Array>();
  const r = replayKv(log, map);
  assert.deepEqual(r, { good: log.length, problem: null });
  assert.deepEqual([...map.keys()], ["a", "ключ"]);
  assert.deepEqual(map.get("a"), enc.encode("3"));
  assert.deepEqual(map.get("ключ"), new Uint8Array(0));
  // Values are copies: the log buffer can be reused.
  log.fill(0);
  assert.deepEqual(map.get("a"), enc.encode("3"));
});

Deno.test("replayKv() stops at a torn or damaged record and says how much was good", () => {
  const first = encodeKv(KV_SET, "k1", enc.encode("v1"));
  const second = encodeKv(KV_SET, "k2", enc.encode("v2"));
  const log = concat([kvHeader(), first, second]);
  const goodEnd = KV_HEADER_SIZE + first.length;
  for (let cut = goodEnd + 1; cut < log.length; cut++) {
    const map = new Map<string, Uint8Array>();
    const r = replayKv(log.subarray(0, cut), map);
    assert.equal(r.good, goodEnd, `cut at ${cut}`);
    assert.match(r.problem!, /torn record/);
    assert.deepEqual([...map.keys()], ["k1"]);
  }
  const flipped = log.slice();
  flipped[log.length - 1] ^= 1;
  const map = new Map<string, Uint8Array>();
  assert.deepEqual(replayKv(flipped, map), { good: goodEnd, problem: "record checksum mismatch" });
  assert.deepEqual(replayKv(new Uint8Array(3), new Map()), {
    good: 0,
    problem: "not a key-value log (bad magic)",
  });
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
