/**
 * Reader: a DataView cursor over one frame payload.
 *
 * Owns bounds checking (a read past the end of the payload is a FRAME_ERROR, as RabbitMQ reports
 * a truncated method), decoding of every AMQP primitive and of field tables and arrays. Strings and
 * byte arrays are copied out, so nothing decoded aliases the received chunk.
 *
 * @module
 */

import { AmqpError } from "../errors.ts";
import { EMPTY_TABLE, type FieldTable, type FieldValue, TypedField } from "./field_table.ts";

const utf8 = new TextDecoder();
const TWO_32 = 4294967296;

/** A cursor over `bytes[offset, end)`. Reuse one instance with {@link Reader.reset}. */
export class Reader {
  bytes: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(this.bytes.buffer);
  offset = 0;
  end = 0;

  /** Points the reader at `bytes` (a view into a received chunk); no copy is made. */
  reset(bytes: Uint8Array): this {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = 0;
    this.end = bytes.byteLength;
    return this;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.end - this.offset;
  }

  #need(n: number): void {
    if (this.offset + n > this.end) {
      throw new AmqpError("FRAME_ERROR", `truncated frame: needed ${n} more bytes at offset ${this.offset}`);
    }
  }

  /** uint8 */
  octet(): number {
    this.#need(1);
    return this.view.getUint8(this.offset++);
  }

  /** uint16 */
  short(): number {
    this.#need(2);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  /** uint32 */
  long(): number {
    this.#need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  /** uint64 as a number; values above 2^53 - 1 are a SYNTAX_ERROR (no BigInt on the hot path). */
  longlong(): number {
    this.#need(8);
    const hi = this.view.getUint32(this.offset);
    const lo = this.view.getUint32(this.offset + 4);
    this.offset += 8;
    if (hi > 0x1fffff) throw new AmqpError("SYNTAX_ERROR", "64-bit value out of range");
    return hi * TWO_32 + lo;
  }

  /** int64 as a number (exact within ±2^53). */
  #int64(): number {
    this.#need(8);
    const hi = this.view.getInt32(this.offset);
    const lo = this.view.getUint32(this.offset + 4);
    this.offset += 8;
    return hi * TWO_32 + lo;
  }

  /** short string (length octet + UTF-8). */
  shortstr(): string {
    const len = this.octet();
    this.#need(len);
    const start = this.offset;
    this.offset += len;
    return len === 0 ? "" : utf8.decode(this.bytes.subarray(start, start + len));
  }

  /** long string decoded as UTF-8. */
  longstr(): string {
    const len = this.long();
    this.#need(len);
    const start = this.offset;
    this.offset += len;
    return len === 0 ? "" : utf8.decode(this.bytes.subarray(start, start + len));
  }

  /** long string as a copy of its raw bytes (SASL responses are binary). */
  longstrBytes(): Uint8Array {
    const len = this.long();
    this.#need(len);
    const start = this.offset;
    this.offset += len;
    return this.bytes.slice(start, start + len);
  }

  /** Field table. */
  table(): FieldTable {
    const len = this.long();
    this.#need(len);
    if (len === 0) return EMPTY_TABLE;
    const stop = this.offset + len;
    const savedEnd = this.end;
    this.end = stop; // a value may not run past its table
    const out: FieldTable = {};
    while (this.offset < stop) {
      const key = this.shortstr();
      const value = this.fieldValue();
      // A plain assignment to "__proto__" would replace the prototype instead of adding a key.
      if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true });
      else out[key] = value;
    }
    this.end = savedEnd;
    return out;
  }

  /** Field array. */
  array(): FieldValue[] {
    const len = this.long();
    this.#need(len);
    const stop = this.offset + len;
    const savedEnd = this.end;
    this.end = stop;
    const out: FieldValue[] = [];
    while (this.offset < stop) out.push(this.fieldValue());
    this.end = savedEnd;
    return out;
  }

  /** One tagged field value. Unknown tags are a SYNTAX_ERROR. */
  fieldValue(): FieldValue {
    const tag = this.octet();
    const v = this.view;
    switch (tag) {
      case 0x74: // t
        return this.octet() !== 0;
      case 0x62: // b
        this.#need(1);
        return new TypedField("b", v.getInt8(this.offset++));
      case 0x42: // B
        return new TypedField("B", this.octet());
      case 0x73: { // s: int16 in RabbitMQ
        this.#need(2);
        const n = v.getInt16(this.offset);
        this.offset += 2;
        return new TypedField("s", n);
      }
      case 0x75: // u
        return new TypedField("u", this.short());
      case 0x49: { // I
        this.#need(4);
        const n = v.getInt32(this.offset);
        this.offset += 4;
        return n;
      }
      case 0x69: // i
        return new TypedField("i", this.long());
      case 0x6c: // l
        return new TypedField("l", this.#int64());
      case 0x4c: // L
        return new TypedField("L", this.longlong());
      case 0x66: { // f
        this.#need(4);
        const n = v.getFloat32(this.offset);
        this.offset += 4;
        return new TypedField("f", n);
      }
      case 0x64: { // d
        this.#need(8);
        const n = v.getFloat64(this.offset);
        this.offset += 8;
        return Number.isInteger(n) ? new TypedField("d", n) : n;
      }
      case 0x44: { // D
        const scale = this.octet();
        this.#need(4);
        const value = v.getInt32(this.offset);
        this.offset += 4;
        return new TypedField("D", { scale, value });
      }
      case 0x53: // S
        return this.longstr();
      case 0x78: // x
        return this.longstrBytes();
      case 0x41: // A
        return this.array();
      case 0x54: // T
        return new Date(this.longlong() * 1000);
      case 0x46: // F
        return this.table();
      case 0x56: // V
        return null;
      default:
        throw new AmqpError(
          "SYNTAX_ERROR",
          `unknown field table type '${String.fromCharCode(tag)}' (0x${tag.toString(16)})`,
        );
    }
  }
}
