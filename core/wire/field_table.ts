/**
 * AMQP field values as JavaScript values.
 *
 * Owns the mapping between RabbitMQ's field-table type tags and JS values. Common tags decode to
 * plain values; tags that would lose their identity as plain numbers decode to a {@link TypedField}
 * so a table read and written back is byte-identical.
 *
 * | tag | AMQP (RabbitMQ) | JS value |
 * | --- | --- | --- |
 * | t | boolean | `boolean` |
 * | b / B | int8 / uint8 | `TypedField` |
 * | s / u | int16 / uint16 (RabbitMQ: `s` is int16) | `TypedField` |
 * | I | int32 | `number` |
 * | i | uint32 | `TypedField` |
 * | l | int64 | `TypedField` (`number` when read; exact up to 2^53) |
 * | L | uint64 (read only: RabbitMQ never emits it) | `TypedField` |
 * | f | float32 | `TypedField` |
 * | d | float64 | `number`; `TypedField` when integral, so it is not re-sent as `I` |
 * | D | decimal | `TypedField` with `{ scale, value }` |
 * | S | long string | `string` |
 * | x | byte array | `Uint8Array` |
 * | A | array | `FieldValue[]` |
 * | T | timestamp (seconds) | `Date` |
 * | F | table | `FieldTable` |
 * | V | void | `null` |
 *
 * @module
 */

/** Decimal value: `value / 10^scale`. */
export interface Decimal {
  readonly scale: number;
  readonly value: number;
}

/** Type tags that need an explicit wrapper to survive a round trip. */
export type TypedTag = "b" | "B" | "s" | "u" | "i" | "l" | "L" | "f" | "d" | "D";

/** A field value that keeps its wire type tag. */
export class TypedField {
  /**
   * @param type the wire tag
   * @param value the number (or decimal for `D`)
   */
  constructor(readonly type: TypedTag, readonly value: number | Decimal) {}
  /** The numeric value (decimals converted). */
  valueOf(): number {
    const v = this.value;
    return typeof v === "number" ? v : v.value / 10 ** v.scale;
  }
}

/** Any value that can sit in a field table or array. */
export type FieldValue =
  | boolean
  | number
  | string
  | null
  | Date
  | Uint8Array
  | TypedField
  | FieldValue[]
  | FieldTable;

/** An AMQP field table. */
export interface FieldTable {
  [key: string]: FieldValue;
}

/** Shared frozen empty table: decoding an empty table returns this to avoid an allocation. */
export const EMPTY_TABLE: FieldTable = Object.freeze({}) as FieldTable;

/** Shorthand for an int64 (`l`) field, which RabbitMQ uses for counts such as `x-death` `count`. */
export function int64(n: number): TypedField {
  return new TypedField("l", n);
}

/** RabbitMQ's name for the type of a field value, as its error texts show it. */
export function fieldTypeName(v: FieldValue): string {
  if (v === null) return "void";
  if (typeof v === "string") return "longstr";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "signedint" : "double";
  if (v instanceof TypedField) {
    const names: Record<string, string> = {
      b: "byte",
      B: "unsignedbyte",
      s: "short",
      u: "unsignedshort",
      i: "unsignedint",
      l: "long",
      L: "long",
      f: "float",
      d: "double",
      D: "decimal",
    };
    return names[v.type];
  }
  if (v instanceof Date) return "timestamp";
  if (v instanceof Uint8Array) return "binary";
  if (Array.isArray(v)) return "array";
  return "table";
}
