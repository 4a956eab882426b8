/**
 * Writer: a growable output buffer with a DataView cursor.
 *
 * Owns encoding of every AMQP primitive, field tables and arrays, and framing (`beginFrame` /
 * `endFrame` write the 7-byte header and the 0xCE end octet around a payload written in place).
 * One Writer per connection is the batched output buffer: frames are appended and the whole
 * buffer is handed to the transport once per turn of the event loop.
 *
 * @module
 */

import { FRAME_END } from "./constants.ts";
import { type FieldTable, type FieldValue, TypedField } from "./field_table.ts";

const utf8 = new TextEncoder();
const TWO_32 = 4294967296;

/** Growable byte buffer with typed writes. */
export class Writer {
  bytes: Uint8Array;
  view: DataView;
  offset = 0;

  /** @param initialSize starting capacity in bytes @default 4096 */
  constructor(initialSize = 4096) {
    this.bytes = new Uint8Array(initialSize);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Makes room for `n` more bytes, doubling the buffer as needed. */
  ensure(n: number): void {
    const need = this.offset + n;
    if (need <= this.bytes.length) return;
    let size = this.bytes.length * 2 || 64; // a zero initial capacity would never grow
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.offset));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  /** Bytes written so far (a view; valid until the next write or reset). */
  written(): Uint8Array {
    return this.bytes.subarray(0, this.offset);
  }

  /** Forgets everything written, keeping the capacity. */
  reset(): void {
    this.offset = 0;
  }

  octet(v: number): void {
    this.ensure(1);
    this.view.setUint8(this.offset++, v);
  }

  short(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.offset, v);
    this.offset += 2;
  }

  long(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.offset, v);
    this.offset += 4;
  }

  /** uint64 from a non-negative safe integer, as two 32-bit halves; anything else is a RangeError. */
  longlong(v: number): void {
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`Cannot encode ${v} as an unsigned 64-bit value: not in [0, 2^53 - 1]`);
    }
    this.ensure(8);
    this.view.setUint32(this.offset, Math.floor(v / TWO_32));
    this.view.setUint32(this.offset + 4, v >>> 0);
    this.offset += 8;
  }

  #int64(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / TWO_32);
    this.view.setInt32(this.offset, hi);
    this.view.setUint32(this.offset + 4, v - hi * TWO_32);
    this.offset += 8;
  }

  /** Raw bytes. */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.bytes.set(b, this.offset);
    this.offset += b.length;
  }

  /** Short string; strings over 255 UTF-8 bytes are a programming error (RangeError). */
  shortstr(s: string): void {
    this.ensure(1 + s.length * 3);
    const start = this.offset + 1;
    const { read, written } = utf8.encodeInto(s, this.bytes.subarray(start, start + 255));
    if (read < s.length) {
      throw new RangeError(`Cannot encode short string "${s.slice(0, 20)}…": longer than 255 bytes`);
    }
    this.bytes[this.offset] = written;
    this.offset = start + written;
  }

  /** Long string (UTF-8). */
  longstr(s: string): void {
    this.ensure(4 + s.length * 3);
    const start = this.offset + 4;
    const { written } = utf8.encodeInto(s, this.bytes.subarray(start));
    this.view.setUint32(this.offset, written);
    this.offset = start + written;
  }

  /** Long string from raw bytes. */
  longstrBytes(b: Uint8Array): void {
    this.long(b.length);
    this.raw(b);
  }

  /** Field table. */
  table(t: FieldTable | undefined | null): void {
    const lenAt = this.offset;
    this.long(0);
    if (t) {
      for (const key in t) {
        this.shortstr(key);
        this.fieldValue(t[key]);
      }
    }
    this.view.setUint32(lenAt, this.offset - lenAt - 4);
  }

  /** Field array. */
  array(a: readonly FieldValue[]): void {
    const lenAt = this.offset;
    this.long(0);
    for (let i = 0; i < a.length; i++) this.fieldValue(a[i]);
    this.view.setUint32(lenAt, this.offset - lenAt - 4);
  }

  /**
   * One tagged value. Plain numbers become `I` (int32), `l` (other integers) or `d`; the tags
   * RabbitMQ emits are the only ones written for plain JS values.
   */
  fieldValue(v: FieldValue | undefined): void {
    if (v === null || v === undefined) return this.octet(0x56); // V
    switch (typeof v) {
      case "string":
        this.octet(0x53);
        return this.longstr(v);
      case "boolean":
        this.octet(0x74);
        return this.octet(v ? 1 : 0);
      case "number":
        if (Number.isInteger(v)) {
          if (v >= -2147483648 && v <= 2147483647) {
            this.octet(0x49);
            this.ensure(4);
            this.view.setInt32(this.offset, v);
            this.offset += 4;
            return;
          }
          this.octet(0x6c);
          return this.#int64(v);
        }
        this.octet(0x64);
        this.ensure(8);
        this.view.setFloat64(this.offset, v);
        this.offset += 8;
        return;
    }
    if (v instanceof TypedField) return this.#typed(v);
    if (v instanceof Uint8Array) {
      this.octet(0x78);
      return this.longstrBytes(v);
    }
    if (v instanceof Date) {
      this.octet(0x54);
      return this.longlong(Math.floor(v.getTime() / 1000));
    }
    if (Array.isArray(v)) {
      this.octet(0x41);
      return this.array(v);
    }
    this.octet(0x46);
    this.table(v as FieldTable);
  }

  #typed(f: TypedField): void {
    const tag = f.type;
    this.octet(tag.charCodeAt(0));
    const n = f.value as number;
    this.ensure(9);
    switch (tag) {
      case "b":
        this.view.setInt8(this.offset++, n);
        return;
      case "B":
        this.view.setUint8(this.offset++, n);
        return;
      case "s":
        this.view.setInt16(this.offset, n);
        this.offset += 2;
        return;
      case "u":
        this.view.setUint16(this.offset, n);
        this.offset += 2;
        return;
      case "i":
        this.view.setUint32(this.offset, n);
        this.offset += 4;
        return;
      case "l":
        return this.#int64(n);
      case "L":
        return this.longlong(n);
      case "f":
        this.view.setFloat32(this.offset, n);
        this.offset += 4;
        return;
      case "d":
        this.view.setFloat64(this.offset, n);
        this.offset += 8;
        return;
      case "D": {
        const d = f.value as { scale: number; value: number };
        this.view.setUint8(this.offset++, d.scale);
        this.view.setInt32(this.offset, d.value);
        this.offset += 4;
        return;
      }
    }
  }

  /** Starts a frame; returns the position to pass to {@link Writer.endFrame}. */
  beginFrame(type: number, channel: number): number {
    this.ensure(7);
    const at = this.offset;
    this.view.setUint8(at, type);
    this.view.setUint16(at + 1, channel);
    this.offset += 7; // size is filled in by endFrame
    return at;
  }

  /** Ends the frame started at `at`: writes its size and the frame-end octet. */
  endFrame(at: number): void {
    this.view.setUint32(at + 3, this.offset - at - 7);
    this.octet(FRAME_END);
  }
}
