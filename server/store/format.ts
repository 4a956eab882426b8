/**
 * The on-disk format of the message store, byte by byte (docs/storage.md describes it for
 * people): segment files of message records, queue journals of fixed-size entries, plugin
 * key-value logs. Every record and entry carries a CRC-32 so a torn or damaged one is found
 * and skipped, never trusted.
 *
 * All integers are big-endian, as on the AMQP wire.
 *
 * @module
 */

import { crc32 } from "node:zlib";
import { Message } from "../../core/mod.ts";

/** Format version written in every file header; a file with another version is not read. */
export const FORMAT_VERSION = 1;

// ---------------------------------------------------------------- segments

/** Segment file header: magic "WRNSEG", version u16, segment number u32, reserved u32. */
export const SEGMENT_MAGIC = "WRNSEG";
export const SEGMENT_HEADER_SIZE = 16;
/**
 * Record header: payload length u32, CRC-32 of the payload u32, format u8, flags u8, reserved u16.
 * Payload: exchange (u8 length + UTF-8), routing key (u8 length + UTF-8), properties (u32 length
 * + the AMQP property flags and list as published), body (the rest).
 */
export const RECORD_HEADER_SIZE = 12;

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** Segment file name for a number: `00000042.seg`. */
export function segmentName(n: number): string {
  return `${String(n).padStart(8, "0")}.seg`;
}

/** A segment file's header bytes. */
export function segmentHeader(n: number): Uint8Array {
  const b = new Uint8Array(SEGMENT_HEADER_SIZE);
  b.set(utf8.encode(SEGMENT_MAGIC), 0);
  const v = new DataView(b.buffer);
  v.setUint16(6, FORMAT_VERSION);
  v.setUint32(8, n);
  return b;
}

/** Checks a segment header; returns a problem, or null when it is good. */
export function segmentHeaderProblem(b: Uint8Array, n: number): string | null {
  if (b.length < SEGMENT_HEADER_SIZE) return "file shorter than its header";
  if (utf8d.decode(b.subarray(0, 6)) !== SEGMENT_MAGIC) return "not a segment file (bad magic)";
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint16(6) !== FORMAT_VERSION) return `unknown format version ${v.getUint16(6)}`;
  if (v.getUint32(8) !== n) return `header names segment ${v.getUint32(8)}`;
  return null;
}

/** Bytes of a message's record. */
export function recordSize(m: Message): number {
  // UTF-8 is at most 3 bytes per UTF-16 unit; exact lengths are computed when written.
  return RECORD_HEADER_SIZE + 1 + byteLength(m.exchange) + 1 + byteLength(m.routingKey) + 4 +
    m.rawProperties.length + m.body.length;
}

const scratch = new Uint8Array(255);

/**
 * Bytes `writeShort` writes for a string: its UTF-8 length, at most 255 (a name decoded from
 * invalid UTF-8 can be longer than the 255 bytes it came in as). ASCII is not encoded to count.
 */
function byteLength(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return utf8.encodeInto(s, scratch).written;
  return Math.min(s.length, 255);
}

/** Writes a message's record at `at` in `b` (which has room for `recordSize(m)` bytes). */
export function encodeRecord(m: Message, b: Uint8Array, at: number): void {
  let p = at + RECORD_HEADER_SIZE;
  p = writeShort(b, p, m.exchange);
  p = writeShort(b, p, m.routingKey);
  putUint32(b, p, m.rawProperties.length);
  p += 4;
  b.set(m.rawProperties, p);
  p += m.rawProperties.length;
  b.set(m.body, p);
  p += m.body.length;
  putUint32(b, at, p - at - RECORD_HEADER_SIZE);
  putUint32(b, at + 4, crc32(b.subarray(at + RECORD_HEADER_SIZE, p)));
  b[at + 8] = FORMAT_VERSION;
  b[at + 9] = 0;
  b[at + 10] = 0;
  b[at + 11] = 0;
}

/** Big-endian u32 without a DataView (these run once or twice per message). */
function putUint32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

function getUint32(b: Uint8Array, at: number): number {
  return (b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]) >>> 0;
}

/** CRC-32 (IEEE, as zlib's) table, for the 20-byte journal entries: cheaper in JS than a native call. */
const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 of `b[start..end)`, equal to zlib's `crc32(b.subarray(start, end))`. */
export function crc32Range(b: Uint8Array, start: number, end: number): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function writeShort(b: Uint8Array, p: number, s: string): number {
  const { written } = utf8.encodeInto(s, b.subarray(p + 1, p + 256));
  b[p] = written;
  return p + 1 + written;
}

/**
 * Decodes a record read from disk (`b` holds exactly the record and is owned by the message).
 * Returns a problem string when the header, length or checksum is wrong.
 */
export function decodeRecord(b: Uint8Array): Message | string {
  if (b.length < RECORD_HEADER_SIZE) return "record shorter than its header (torn write)";
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const length = v.getUint32(0);
  if (length !== b.length - RECORD_HEADER_SIZE) return `record length ${length} does not match its index`;
  if (b[8] !== FORMAT_VERSION) return `unknown record format ${b[8]}`;
  const payload = b.subarray(RECORD_HEADER_SIZE);
  if (crc32(payload) !== v.getUint32(4)) return "record checksum mismatch";
  let p = RECORD_HEADER_SIZE;
  const exLen = b[p++];
  const exchange = utf8d.decode(b.subarray(p, p + exLen));
  p += exLen;
  const rkLen = b[p++];
  const routingKey = utf8d.decode(b.subarray(p, p + rkLen));
  p += rkLen;
  const propsLen = v.getUint32(p);
  p += 4;
  if (p + propsLen > b.length) return "record properties overrun";
  const m = new Message(exchange, routingKey, b.subarray(p, p + propsLen), b.subarray(p + propsLen));
  m.recordLength = b.length;
  return m;
}

// ---------------------------------------------------------------- queue journals

/**
 * Journal file header: magic "WRNQJ" version u16, header length u32 (all of it), CRC-32 u32 of
 * what follows it, vhost (u16 length + UTF-8), queue name (u16 length + UTF-8).
 */
export const JOURNAL_MAGIC = "WRNQJ";
/**
 * Journal entry, 24 bytes: kind u8, reserved u8 + u16, segment u32, offset u32, record length
 * u32, body length u32, CRC-32 u32 of the first 20 bytes.
 */
export const ENTRY_SIZE = 24;
export const ENTRY_ENQUEUED = 1;
export const ENTRY_DELIVERED = 2;
export const ENTRY_REMOVED = 3;
/**
 * Written right after the enqueued entry of a message with a TTL: the same segment and offset,
 * then its expiry time (ms since the epoch, a float64) where the lengths are in other entries.
 */
export const ENTRY_EXPIRES = 4;

/** A journal header naming its queue. */
export function journalHeader(vhost: string, queue: string): Uint8Array {
  const v = utf8.encode(vhost);
  const q = utf8.encode(queue);
  const size = 5 + 2 + 4 + 4 + 2 + v.length + 2 + q.length;
  const b = new Uint8Array(size);
  const d = new DataView(b.buffer);
  b.set(utf8.encode(JOURNAL_MAGIC), 0);
  d.setUint16(5, FORMAT_VERSION);
  d.setUint32(7, size);
  let p = 15;
  d.setUint16(p, v.length);
  b.set(v, p + 2);
  p += 2 + v.length;
  d.setUint16(p, q.length);
  b.set(q, p + 2);
  d.setUint32(11, crc32(b.subarray(15)));
  return b;
}

/** Reads a journal header: its queue and size, or a problem. */
export function readJournalHeader(
  b: Uint8Array,
): { vhost: string; queue: string; size: number } | string {
  if (b.length < 15 || utf8d.decode(b.subarray(0, 5)) !== JOURNAL_MAGIC) {
    return "not a queue journal (bad magic)";
  }
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (d.getUint16(5) !== FORMAT_VERSION) return `unknown format version ${d.getUint16(5)}`;
  const size = d.getUint32(7);
  if (size > b.length || size < 19) return "header torn";
  if (crc32(b.subarray(15, size)) !== d.getUint32(11)) return "header checksum mismatch";
  let p = 15;
  const vl = d.getUint16(p);
  const vhost = utf8d.decode(b.subarray(p + 2, p + 2 + vl));
  p += 2 + vl;
  const ql = d.getUint16(p);
  const queue = utf8d.decode(b.subarray(p + 2, p + 2 + ql));
  return { vhost, queue, size };
}

/** Writes one journal entry at `at`. */
export function encodeEntry(
  b: Uint8Array,
  at: number,
  kind: number,
  location: number,
  length: number,
  bodyLength: number,
): void {
  putUint32(b, at, kind << 24);
  putUint32(b, at + 4, Math.floor(location / 0x1_0000_0000));
  putUint32(b, at + 8, location >>> 0);
  putUint32(b, at + 12, length);
  putUint32(b, at + 16, bodyLength);
  putUint32(b, at + 20, crc32Range(b, at, at + 20));
}

/** Writes an expiry entry at `at`: kind, location, then the time as a float64. */
export function encodeExpiryEntry(b: Uint8Array, at: number, location: number, expiresAt: number): void {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  d.setUint32(at, ENTRY_EXPIRES << 24);
  d.setUint32(at + 4, Math.floor(location / 0x1_0000_0000));
  d.setUint32(at + 8, location >>> 0);
  d.setFloat64(at + 12, expiresAt);
  d.setUint32(at + 20, crc32Range(b, at, at + 20));
}

/** True when the entry at `at` passes its checksum. */
export function entryIntact(b: Uint8Array, at: number): boolean {
  return crc32Range(b, at, at + 20) === getUint32(b, at + 20);
}

// ---------------------------------------------------------------- key-value logs

/**
 * Key-value log record: CRC-32 u32 of the rest, length u32 of the rest, op u8 (1 set, 2 delete),
 * key (u16 length + UTF-8), value (the rest). The file starts with magic "WRNKV" version u16.
 */
export const KV_MAGIC = "WRNKV";
export const KV_HEADER_SIZE = 7;
export const KV_SET = 1;
export const KV_DELETE = 2;

/** A key-value log file header. */
export function kvHeader(): Uint8Array {
  const b = new Uint8Array(KV_HEADER_SIZE);
  b.set(utf8.encode(KV_MAGIC), 0);
  new DataView(b.buffer).setUint16(5, FORMAT_VERSION);
  return b;
}

/** One key-value log record. */
export function encodeKv(op: number, key: string, value: Uint8Array | null): Uint8Array {
  const k = utf8.encode(key);
  const rest = 1 + 2 + k.length + (value?.length ?? 0);
  const b = new Uint8Array(8 + rest);
  const d = new DataView(b.buffer);
  d.setUint32(4, rest);
  b[8] = op;
  d.setUint16(9, k.length);
  b.set(k, 11);
  if (value) b.set(value, 11 + k.length);
  d.setUint32(0, crc32(b.subarray(4)));
  return b;
}

/**
 * Replays a key-value log into a map. Stops at the first damaged record (a torn tail) and
 * returns how many bytes were good, so the caller can cut the rest off.
 */
export function replayKv(
  b: Uint8Array,
  into: Map<string, Uint8Array>,
): { good: number; problem: string | null } {
  if (b.length < KV_HEADER_SIZE || utf8d.decode(b.subarray(0, 5)) !== KV_MAGIC) {
    return { good: 0, problem: "not a key-value log (bad magic)" };
  }
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = KV_HEADER_SIZE;
  while (p < b.length) {
    if (p + 8 > b.length) return { good: p, problem: "torn record at the end" };
    const rest = d.getUint32(p + 4);
    if (p + 8 + rest > b.length || rest < 3) return { good: p, problem: "torn record at the end" };
    if (crc32(b.subarray(p + 4, p + 8 + rest)) !== d.getUint32(p)) {
      return { good: p, problem: "record checksum mismatch" };
    }
    const op = b[p + 8];
    const kl = d.getUint16(p + 9);
    const key = utf8d.decode(b.subarray(p + 11, p + 11 + kl));
    if (op === KV_SET) into.set(key, b.slice(p + 11 + kl, p + 8 + rest));
    else into.delete(key);
    p += 8 + rest;
  }
  return { good: p, problem: null };
}
