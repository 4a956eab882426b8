/**
 * The `headers` exchange type: a message goes to every binding whose arguments match its headers;
 * the routing key is ignored. Semantics are RabbitMQ 3.10's (`rabbit_exchange_type_headers`),
 * checked against a live broker; `headers_test.ts` holds the findings as a table.
 *
 * - `x-match` is `all` (the default), `any`, `all-with-x` or `any-with-x`; anything else is
 *   refused at bind time with 406 and RabbitMQ's text.
 * - `all` with no match arguments matches every message (even one without headers); `any` with
 *   none matches nothing.
 * - Other `x-` arguments are not matched, except in the `-with-x` modes (`x-match` itself never is).
 * - A void (null) argument matches on the presence of the header, whatever its value.
 * - Values compare as Erlang's `==` compares RabbitMQ's decoded values: numbers by value whatever
 *   their width or sign (int 1 = long 1 = double 1.0 = timestamp 1); a long string equals a byte
 *   array with the same bytes; "1" is not 1; booleans equal only booleans; a decimal equals only a
 *   decimal with the same scale and digits; arrays and tables compare element by element in wire
 *   order with their types (int 1 inside a table is not long 1), and an empty array equals an
 *   empty table.
 *
 * Owns the prepared bindings: `bind()` parses `x-match` and turns each match argument into a
 * `Pattern` of a fixed kind, so `route()` only loops over prepared pairs and allocates nothing.
 *
 * Known limit: a nested table is a JS object, so its key order is JS's (integer-like keys first),
 * not always the wire order RabbitMQ compares in.
 *
 * @module
 */

import {
  type BindableRouter,
  type Binding,
  type ExchangeTypePlugin,
  type FieldTable,
  type FieldValue,
  preconditionFailed,
  type RouteSink,
  type RoutingInput,
  sameBinding,
  TypedField,
} from "../api.ts";

// Pattern kinds, chosen at bind time so route() does one switch per pair.
/** Void argument: the header only has to be present. */
const PRESENT = 0;
/** Any integer, float or timestamp: compared by numeric value. */
const NUMBER = 1;
/** Long string or byte array: compared by bytes. */
const BYTES = 2;
const BOOL = 3;
const DECIMAL = 4;
/** Array or table: compared structurally with types, in order. */
const LIST = 5;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lossyUtf8 = new TextDecoder();

/** One match argument, prepared at bind time. */
class Pattern {
  /** True when `key` is also a property of every plain object (`constructor`, `toString`…). */
  readonly inherited: boolean;
  /** NUMBER: the value. */
  readonly num: number = NaN;
  /** BYTES: the value as text; null when its bytes are not UTF-8 (then no string header equals it). */
  readonly str: string | null = null;
  /** BYTES: the value's bytes, compared against byte-array headers. */
  readonly bytes: Uint8Array | null = null;
  /** BOOL, DECIMAL, LIST: the argument itself. */
  readonly value: FieldValue;
  readonly kind: number;

  constructor(readonly key: string, value: FieldValue) {
    this.inherited = key in Object.prototype;
    this.value = value;
    if (value === null) this.kind = PRESENT;
    else if (typeof value === "string") {
      this.kind = BYTES;
      this.str = value;
      this.bytes = utf8.encode(value);
    } else if (value instanceof Uint8Array) {
      this.kind = BYTES;
      this.bytes = value;
      this.str = decodeStrict(value);
    } else if (typeof value === "boolean") this.kind = BOOL;
    else if (value instanceof TypedField && value.type === "D") this.kind = DECIMAL;
    else if (Array.isArray(value) || isTable(value)) this.kind = LIST;
    else { // an integer or float of any width, or a timestamp
      this.kind = NUMBER;
      this.num = numberOf(value);
    }
  }

  /** True when `headers` satisfies this argument. */
  matches(headers: FieldTable): boolean {
    const v = this.inherited
      ? (Object.hasOwn(headers, this.key) ? headers[this.key] : undefined)
      : headers[this.key];
    if (v === undefined) return false;
    switch (this.kind) {
      case PRESENT:
        return true;
      case NUMBER:
        return numberOf(v) === this.num;
      case BYTES:
        if (typeof v === "string") return v === this.str;
        return v instanceof Uint8Array && sameBytes(v, this.bytes!);
      case BOOL:
        return v === this.value;
      case DECIMAL:
        return v instanceof TypedField && v.type === "D" && sameTyped(v, this.value);
      default:
        return sameList(this.value, v);
    }
  }
}

/** A binding with its `x-match` mode and match arguments parsed. */
interface Prepared {
  readonly binding: Binding;
  readonly any: boolean;
  readonly patterns: readonly Pattern[];
}

/** Router for one headers exchange. */
export class HeadersRouter implements BindableRouter {
  readonly #all: Prepared[] = [];

  route(input: RoutingInput, out: RouteSink): void {
    const headers = input.headers;
    const all = this.#all;
    for (let i = 0; i < all.length; i++) {
      const p = all[i];
      if (!matches(p, headers)) continue;
      const d = p.binding.destination;
      if (d.kind === "queue") out.queue(d.name);
      else out.exchange(d.name);
    }
  }

  bind(binding: Binding): boolean {
    const prepared = prepare(binding); // validates first, as RabbitMQ does
    for (const p of this.#all) if (sameBinding(p.binding, binding)) return false;
    this.#all.push(prepared);
    return true;
  }

  unbind(binding: Binding): boolean {
    const i = this.#all.findIndex((p) => sameBinding(p.binding, binding));
    if (i < 0) return false;
    this.#all.splice(i, 1);
    return true;
  }

  *bindings(): Iterable<Binding> {
    for (const p of this.#all) yield p.binding;
  }

  get size(): number {
    return this.#all.length;
  }
}

function matches(p: Prepared, headers: FieldTable | undefined): boolean {
  const patterns = p.patterns;
  const n = patterns.length;
  if (p.any) {
    if (headers === undefined) return false;
    for (let i = 0; i < n; i++) if (patterns[i].matches(headers)) return true;
    return false;
  }
  if (n === 0) return true;
  if (headers === undefined) return false;
  for (let i = 0; i < n; i++) if (!patterns[i].matches(headers)) return false;
  return true;
}

/**
 * Parses a binding's `x-match` and match arguments.
 *
 * @param binding the binding being added
 * @returns the binding with its prepared patterns
 * @throws 406 PRECONDITION_FAILED with RabbitMQ's text when `x-match` is not a valid mode
 */
function prepare(binding: Binding): Prepared {
  const args = binding.args;
  let any = false;
  let withX = false;
  if (Object.hasOwn(args, "x-match")) {
    const mode = args["x-match"];
    if (typeof mode !== "string") {
      throw preconditionFailed(
        `Invalid x-match field type ${typeName(mode)} (value ${erlangTerm(mode)}); expected longstr`,
      );
    }
    switch (mode) {
      case "all":
        break;
      case "any":
        any = true;
        break;
      case "all-with-x":
        withX = true;
        break;
      case "any-with-x":
        any = withX = true;
        break;
      default:
        throw preconditionFailed(
          `Invalid x-match field value ${erlangTerm(mode)}; expected all, any, all-with-x, or any-with-x`,
        );
    }
  }
  const patterns: Pattern[] = [];
  for (const key of Object.keys(args)) {
    if (key === "x-match" || (!withX && key.startsWith("x-"))) continue;
    patterns.push(new Pattern(key, args[key]));
  }
  return { binding, any, patterns };
}

// ---- value comparison (Erlang `==` over RabbitMQ's decoded field values) ----

/** The numeric value of a number-like field (any integer or float width, timestamp); NaN otherwise. */
function numberOf(v: FieldValue): number {
  if (typeof v === "number") return v;
  if (v instanceof TypedField) return v.type === "D" ? NaN : v.value as number;
  if (v instanceof Date) return v.getTime() / 1000;
  return NaN;
}

function decodeStrict(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isTable(v: FieldValue): v is FieldTable {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof TypedField) &&
    !(v instanceof Date) && !(v instanceof Uint8Array);
}

function isEmptyList(v: FieldValue): boolean {
  return Array.isArray(v) ? v.length === 0 : isTable(v) && Object.keys(v).length === 0;
}

/**
 * Top-level comparison of an array or table argument: RabbitMQ holds both as Erlang lists, so an
 * empty array equals an empty table; otherwise the kinds must agree and the elements compare with
 * their types.
 */
function sameList(pattern: FieldValue, v: FieldValue): boolean {
  if (isEmptyList(pattern)) return isEmptyList(v);
  if (Array.isArray(pattern)) return Array.isArray(v) && sameTyped(pattern, v);
  return isTable(v) && sameTyped(pattern, v);
}

/** The wire tag RabbitMQ would have decoded `v` from (`L` shown as `l`: RabbitMQ calls both long). */
function tagOf(v: FieldValue): string {
  if (v === null) return "V";
  switch (typeof v) {
    case "boolean":
      return "t";
    case "string":
      return "S";
    case "number":
      return Number.isInteger(v) ? "I" : "d";
  }
  if (v instanceof TypedField) return v.type === "L" ? "l" : v.type;
  if (v instanceof Date) return "T";
  if (v instanceof Uint8Array) return "x";
  return Array.isArray(v) ? "A" : "F";
}

/** Erlang `==` of two `{Type, Value}` pairs: same type, equal value (nested lists recursively). */
function sameTyped(a: FieldValue, b: FieldValue): boolean {
  const tag = tagOf(a);
  if (tag !== tagOf(b)) return false;
  switch (tag) {
    case "V":
      return true;
    case "x":
      return sameBytes(a as Uint8Array, b as Uint8Array);
    case "T":
      return (a as Date).getTime() === (b as Date).getTime();
    case "D": {
      const x = (a as TypedField).value as { scale: number; value: number };
      const y = (b as TypedField).value as { scale: number; value: number };
      return x.scale === y.scale && x.value === y.value;
    }
    case "A": {
      const x = a as FieldValue[];
      const y = b as FieldValue[];
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!sameTyped(x[i], y[i])) return false;
      return true;
    }
    case "F": {
      const x = a as FieldTable;
      const y = b as FieldTable;
      const kx = Object.keys(x);
      const ky = Object.keys(y);
      if (kx.length !== ky.length) return false;
      for (let i = 0; i < kx.length; i++) {
        if (kx[i] !== ky[i] || !sameTyped(x[kx[i]], y[ky[i]])) return false;
      }
      return true;
    }
    default: // booleans, strings, numbers of one type
      return a!.valueOf() === b!.valueOf();
  }
}

// ---- RabbitMQ's error texts (Erlang's `~p` of the decoded value) ----

const TYPE_NAMES: Record<string, string> = {
  V: "void",
  t: "bool",
  b: "byte",
  B: "unsignedbyte",
  s: "short",
  u: "unsignedshort",
  I: "signedint",
  i: "unsignedint",
  l: "long",
  f: "float",
  d: "double",
  D: "decimal",
  S: "longstr",
  x: "binary",
  A: "array",
  T: "timestamp",
  F: "table",
};

/** RabbitMQ's name for the field type of `v`, e.g. `signedint`. */
function typeName(v: FieldValue): string {
  return TYPE_NAMES[tagOf(v)];
}

/**
 * `v` as Erlang's `~p` prints RabbitMQ's decoded value, on one line. (RabbitMQ breaks a long
 * array or table over several lines; reply texts that long are cut anyway.)
 *
 * @param v a field value
 * @returns e.g. `<<"foo">>`, `1`, `1.0e21`, `{2,314}`, `[{signedint,1}]`
 */
function erlangTerm(v: FieldValue): string {
  switch (tagOf(v)) {
    case "V":
      return "undefined";
    case "t":
      return String(v);
    case "S":
      return erlangBinary(utf8.encode(v as string), v as string);
    case "x":
      return erlangBinary(v as Uint8Array, null);
    case "T":
      return String(Math.floor((v as Date).getTime() / 1000));
    case "D": {
      const d = (v as TypedField).value as { scale: number; value: number };
      return `{${d.scale},${d.value}}`;
    }
    case "f":
    case "d":
      return erlangFloat(numberOf(v));
    case "A":
      return `[${(v as FieldValue[]).map((e) => `{${typeName(e)},${erlangTerm(e)}}`).join(",")}]`;
    case "F": {
      const t = v as FieldTable;
      const items = Object.keys(t).map((k) =>
        `{${erlangBinary(utf8.encode(k), k)},${typeName(t[k])},${erlangTerm(t[k])}}`
      );
      return `[${items.join(",")}]`;
    }
    default: // integers of every width
      return String(numberOf(v));
  }
}

const ESCAPES: Record<number, string> = {
  0x22: '\\"',
  0x5c: "\\\\",
  0x0a: "\\n",
  0x0d: "\\r",
  0x09: "\\t",
  0x0b: "\\v",
  0x08: "\\b",
  0x0c: "\\f",
  0x1b: "\\e",
};

/** Printable in Erlang's default (latin-1) sense. */
function printable(byte: number): boolean {
  return (byte >= 0x20 && byte <= 0x7e) || byte >= 0xa0 || ESCAPES[byte] !== undefined;
}

/**
 * An Erlang binary as `~p` prints it: `<<"text">>` when every byte is printable latin-1 (the bytes
 * go out raw, so UTF-8 text such as `é` survives), else `<<226,130,172>>`.
 */
function erlangBinary(bytes: Uint8Array, text: string | null): string {
  if (bytes.length === 0) return "<<>>";
  for (let i = 0; i < bytes.length; i++) {
    if (!printable(bytes[i])) return `<<${bytes.join(",")}>>`;
  }
  const s = text ?? lossyUtf8.decode(bytes);
  let out = "";
  for (let i = 0; i < s.length; i++) out += ESCAPES[s.charCodeAt(i)] ?? s[i];
  return `<<"${out}">>`;
}

/**
 * A float as Erlang's `~p` prints it (OTP `io_lib_format:fwrite_g/1`): the shortest round-trip
 * digits, written plain (`100.0`, `0.0001`) or with an exponent (`1.0e4`, `1.23e-4`), whichever is
 * shorter, plain on a tie; integral values from 2^53 up always take the exponent.
 */
function erlangFloat(x: number): string {
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const abs = Math.abs(x);
  const [mantissa, e] = abs.toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const len = digits.length;
  const exp = Number(e);
  const place = exp - (len - 1); // abs = digits × 10^place
  const scientific = len === 1 ? `${digits}.0e${exp}` : `${digits[0]}.${digits.slice(1)}e${exp}`;
  let plain: string;
  if (place >= 0) plain = abs < 2 ** 53 ? `${digits}${"0".repeat(place)}.0` : scientific;
  else if (exp >= 0) plain = `${digits.slice(0, len + place)}.${digits.slice(len + place)}`;
  else plain = `0.${"0".repeat(-exp - 1)}${digits}`;
  return (x < 0 ? "-" : "") + (plain.length <= scientific.length ? plain : scientific);
}

/**
 * The `headers` exchange type plugin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { headersPlugin } from "./headers.ts";
 * const router = headersPlugin.create({ name: "amq.headers", vhost: "/", effectiveArg: () => undefined });
 * router.bind({ destination: { kind: "queue", name: "pdf" }, routingKey: "", args: { format: "pdf" } });
 * const queues: string[] = [];
 * const sink = { queue: (name: string) => queues.push(name), exchange: () => {} };
 * router.route({ exchange: "amq.headers", routingKey: "", headers: { format: "pdf", size: 3 } }, sink);
 * assert.deepEqual(queues, ["pdf"]);
 * ```
 */
export const headersPlugin: ExchangeTypePlugin = {
  name: "headers",
  stage: "exchange",
  create: () => new HeadersRouter(),
};
