import assert from "node:assert/strict";
import { routerConformance } from "../_conformance.ts";
import { AmqpError, type Binding, type FieldTable, type FieldValue, TypedField } from "../api.ts";
import { headersPlugin, HeadersRouter } from "./headers.ts";

for (
  const c of routerConformance({
    plugin: headersPlugin,
    match: {
      bindingKey: "",
      bindingArgs: { format: "pdf" },
      routingKey: "ignored",
      headers: { format: "pdf" },
    },
    miss: { routingKey: "ignored", headers: { format: "zip" } },
  })
) {
  Deno.test({ name: `headers: ${c.name}`, ignore: c.ignore !== undefined, fn: c.fn });
}

function typed(type: TypedField["type"], value: number): TypedField {
  return new TypedField(type, value);
}
function decimal(scale: number, value: number): TypedField {
  return new TypedField("D", { scale, value });
}
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const ts = (seconds: number): Date => new Date(seconds * 1000);

/** One routing case: binding arguments, message headers (undefined: none), and whether it routes. */
export interface MatchCase {
  name: string;
  args: FieldTable;
  headers: FieldTable | undefined;
  match: boolean;
}

// Each case was run against RabbitMQ 3.10 (amqp://127.0.0.1:5682, a `headers` exchange, one queue
// bound with `args`, a message published with `headers`, then basic.get): `match` is what it did.
// Plain JS integers are `I` (signedint) here, as the wire decoder produces them.
export const MATCH_CASES: MatchCase[] = [
  // numbers compare by value whatever their type
  { name: "int 1 = long 1", args: { a: 1 }, headers: { a: typed("l", 1) }, match: true },
  { name: "int 1 = byte 1", args: { a: 1 }, headers: { a: typed("b", 1) }, match: true },
  { name: "int 1 = unsigned byte 1", args: { a: 1 }, headers: { a: typed("B", 1) }, match: true },
  { name: "int 1 = short 1", args: { a: 1 }, headers: { a: typed("s", 1) }, match: true },
  { name: "int 1 = unsigned short 1", args: { a: 1 }, headers: { a: typed("u", 1) }, match: true },
  { name: "int 1 = unsigned int 1", args: { a: 1 }, headers: { a: typed("i", 1) }, match: true },
  { name: "int 1 = double 1.0", args: { a: 1 }, headers: { a: typed("d", 1) }, match: true },
  { name: "int 1 = float 1.0", args: { a: 1 }, headers: { a: typed("f", 1) }, match: true },
  {
    name: "long 2^40 = double 2^40",
    args: { a: typed("l", 2 ** 40) },
    headers: { a: typed("d", 2 ** 40) },
    match: true,
  },
  {
    name: "double 0.1 != float 0.1",
    args: { a: 0.1 },
    headers: { a: typed("f", Math.fround(0.1)) },
    match: false,
  },
  { name: "float 0.5 = double 0.5", args: { a: typed("f", 0.5) }, headers: { a: 0.5 }, match: true },
  { name: "double -0.0 = int 0", args: { a: typed("d", -0) }, headers: { a: 0 }, match: true },
  { name: "int 1 != int 2", args: { a: 1 }, headers: { a: 2 }, match: false },
  // timestamps are numbers of seconds
  { name: "timestamp 5 = int 5", args: { a: ts(5) }, headers: { a: 5 }, match: true },
  { name: "timestamp 5 = long 5", args: { a: ts(5) }, headers: { a: typed("l", 5) }, match: true },
  { name: "timestamp 5 = timestamp 5", args: { a: ts(5) }, headers: { a: ts(5) }, match: true },
  // strings
  { name: "string '1' != int 1", args: { a: "1" }, headers: { a: 1 }, match: false },
  { name: "int 1 != string '1'", args: { a: 1 }, headers: { a: "1" }, match: false },
  { name: "string 'abc' = bytes 'abc'", args: { a: "abc" }, headers: { a: bytes("abc") }, match: true },
  { name: "bytes 'abc' = string 'abc'", args: { a: bytes("abc") }, headers: { a: "abc" }, match: true },
  { name: "string comparison is case-sensitive", args: { a: "abc" }, headers: { a: "ABC" }, match: false },
  { name: "empty string needs the header", args: { a: "" }, headers: { b: "" }, match: false },
  // booleans equal only booleans
  { name: "true = true", args: { a: true }, headers: { a: true }, match: true },
  { name: "false = false", args: { a: false }, headers: { a: false }, match: true },
  { name: "true != int 1", args: { a: true }, headers: { a: 1 }, match: false },
  { name: "false != byte 0", args: { a: false }, headers: { a: typed("b", 0) }, match: false },
  { name: "true != string 'true'", args: { a: true }, headers: { a: "true" }, match: false },
  // decimals equal only the same decimal
  { name: "decimal 1.0 (scale 1) != int 1", args: { a: decimal(1, 10) }, headers: { a: 1 }, match: false },
  { name: "decimal (0,1) != int 1", args: { a: decimal(0, 1) }, headers: { a: 1 }, match: false },
  {
    name: "decimal (1,10) != decimal (0,1)",
    args: { a: decimal(1, 10) },
    headers: { a: decimal(0, 1) },
    match: false,
  },
  {
    name: "decimal (1,10) = decimal (1,10)",
    args: { a: decimal(1, 10) },
    headers: { a: decimal(1, 10) },
    match: true,
  },
  { name: "decimal (1,5) != double 0.5", args: { a: decimal(1, 5) }, headers: { a: 0.5 }, match: false },
  // tables and arrays: in order, with their types
  {
    name: "table = same table",
    args: { a: { x: 1, y: "s" } },
    headers: { a: { x: 1, y: "s" } },
    match: true,
  },
  {
    name: "table != same table reordered",
    args: { a: { x: 1, y: "s" } },
    headers: { a: { y: "s", x: 1 } },
    match: false,
  },
  {
    name: "table: int 1 != long 1 inside",
    args: { a: { x: 1 } },
    headers: { a: { x: typed("l", 1) } },
    match: false,
  },
  {
    name: "table: string != bytes inside",
    args: { a: { x: "abc" } },
    headers: { a: { x: bytes("abc") } },
    match: false,
  },
  { name: "empty table = empty table", args: { a: {} }, headers: { a: {} }, match: true },
  { name: "nested table = same", args: { a: { x: { y: 1 } } }, headers: { a: { x: { y: 1 } } }, match: true },
  { name: "array = same array", args: { a: [1, "x"] }, headers: { a: [1, "x"] }, match: true },
  { name: "array: int 1 != long 1 inside", args: { a: [1] }, headers: { a: [typed("l", 1)] }, match: false },
  { name: "array != same array reordered", args: { a: [1, "x"] }, headers: { a: ["x", 1] }, match: false },
  {
    name: "array: string != bytes inside",
    args: { a: ["abc"] },
    headers: { a: [bytes("abc")] },
    match: false,
  },
  { name: "empty array = empty table", args: { a: [] }, headers: { a: {} }, match: true },
  // void: presence
  { name: "void matches a present string", args: { a: null }, headers: { a: "anything" }, match: true },
  { name: "void matches a present void", args: { a: null }, headers: { a: null }, match: true },
  { name: "void needs the header", args: { a: null }, headers: { b: 1 }, match: false },
  {
    name: "a void header matches only a void argument",
    args: { a: "x" },
    headers: { a: null },
    match: false,
  },
  {
    name: "any: void needs the header",
    args: { "x-match": "any", a: null },
    headers: { b: 1 },
    match: false,
  },
  {
    name: "any: void matches a present false",
    args: { "x-match": "any", a: null },
    headers: { a: false },
    match: true,
  },
  // no match arguments, no headers
  { name: "all, no arguments, no headers", args: {}, headers: undefined, match: true },
  {
    name: "explicit all, no arguments, no headers",
    args: { "x-match": "all" },
    headers: undefined,
    match: true,
  },
  { name: "all, no arguments, some headers", args: {}, headers: { z: 1 }, match: true },
  { name: "any, no arguments, no headers", args: { "x-match": "any" }, headers: undefined, match: false },
  { name: "any, no arguments, some headers", args: { "x-match": "any" }, headers: { z: 1 }, match: false },
  { name: "all, one argument, no headers", args: { a: "1" }, headers: undefined, match: false },
  // all / any
  { name: "all: one of two present", args: { a: "1", b: "2" }, headers: { a: "1" }, match: false },
  {
    name: "all: both present, plus others",
    args: { a: "1", b: "2" },
    headers: { a: "1", b: "2", c: 3 },
    match: true,
  },
  {
    name: "any: one of two present",
    args: { "x-match": "any", a: "1", b: "2" },
    headers: { a: "1" },
    match: true,
  },
  {
    name: "any: one wrong, one right",
    args: { "x-match": "any", a: "1", b: "2" },
    headers: { a: "x", b: "2" },
    match: true,
  },
  { name: "any: none right", args: { "x-match": "any", a: "1", b: "2" }, headers: { a: "x" }, match: false },
  // x- arguments
  { name: "all: X-Foo (upper case) is matched", args: { "X-Foo": "bar" }, headers: { a: "1" }, match: false },
  {
    name: "all: header names are case-sensitive",
    args: { Foo: "bar" },
    headers: { foo: "bar" },
    match: false,
  },
  { name: "all: x-foo is not matched", args: { "x-foo": "bar", a: "1" }, headers: { a: "1" }, match: true },
  { name: "all: only x-foo, no headers", args: { "x-foo": "bar" }, headers: undefined, match: true },
  {
    name: "any: x-foo is not matched",
    args: { "x-match": "any", "x-foo": "bar" },
    headers: { "x-foo": "bar" },
    match: false,
  },
  {
    name: "all-with-x: x-foo present",
    args: { "x-match": "all-with-x", "x-foo": "bar" },
    headers: { "x-foo": "bar" },
    match: true,
  },
  {
    name: "all-with-x: x-foo absent",
    args: { "x-match": "all-with-x", "x-foo": "bar" },
    headers: { a: "1" },
    match: false,
  },
  {
    name: "all-with-x: x-foo and a, only a",
    args: { "x-match": "all-with-x", "x-foo": "bar", a: "1" },
    headers: { a: "1" },
    match: false,
  },
  {
    name: "all-with-x: no arguments, no headers",
    args: { "x-match": "all-with-x" },
    headers: undefined,
    match: true,
  },
  {
    name: "all-with-x: x-match itself is not matched",
    args: { "x-match": "all-with-x", a: "1" },
    headers: { a: "1" },
    match: true,
  },
  {
    name: "all-with-x: void x-foo means presence",
    args: { "x-match": "all-with-x", "x-foo": null },
    headers: { "x-foo": 1 },
    match: true,
  },
  {
    name: "any-with-x: x-foo present",
    args: { "x-match": "any-with-x", "x-foo": "bar", a: "1" },
    headers: { "x-foo": "bar" },
    match: true,
  },
  {
    name: "any-with-x: x-foo wrong",
    args: { "x-match": "any-with-x", "x-foo": "bar" },
    headers: { "x-foo": "baz" },
    match: false,
  },
  { name: "any-with-x: no arguments", args: { "x-match": "any-with-x" }, headers: { a: 1 }, match: false },
  {
    name: "any-with-x: an x-match header is not matched",
    args: { "x-match": "any-with-x" },
    headers: { "x-match": "any-with-x" },
    match: false,
  },
];

/** One refused binding: its `x-match` value and RabbitMQ's reply text. */
export interface RefusedCase {
  xMatch: FieldValue;
  text: string;
}

const EXPECTED = "expected all, any, all-with-x, or any-with-x";
// Reply texts copied from RabbitMQ 3.10's channel.close (406) for queue.bind with these x-match values.
export const REFUSED_CASES: RefusedCase[] = [
  { xMatch: "foo", text: `Invalid x-match field value <<"foo">>; ${EXPECTED}` },
  { xMatch: "ALL", text: `Invalid x-match field value <<"ALL">>; ${EXPECTED}` },
  { xMatch: "", text: `Invalid x-match field value <<>>; ${EXPECTED}` },
  { xMatch: "allé", text: `Invalid x-match field value <<"allé">>; ${EXPECTED}` },
  { xMatch: 'a"b\\c', text: `Invalid x-match field value <<"a\\"b\\\\c">>; ${EXPECTED}` },
  { xMatch: "a\nb", text: `Invalid x-match field value <<"a\\nb">>; ${EXPECTED}` },
  { xMatch: "a\tb", text: `Invalid x-match field value <<"a\\tb">>; ${EXPECTED}` },
  { xMatch: "a\x1bb", text: `Invalid x-match field value <<"a\\eb">>; ${EXPECTED}` },
  { xMatch: "a\x01b", text: `Invalid x-match field value <<97,1,98>>; ${EXPECTED}` },
  { xMatch: "a\x7fb", text: `Invalid x-match field value <<97,127,98>>; ${EXPECTED}` },
  { xMatch: "€", text: `Invalid x-match field value <<226,130,172>>; ${EXPECTED}` },
  { xMatch: "a\u00a0b", text: `Invalid x-match field value <<"a\u00a0b">>; ${EXPECTED}` },
  { xMatch: "y".repeat(60), text: `Invalid x-match field value <<"${"y".repeat(60)}">>; ${EXPECTED}` },
  { xMatch: 1, text: "Invalid x-match field type signedint (value 1); expected longstr" },
  { xMatch: typed("l", 5), text: "Invalid x-match field type long (value 5); expected longstr" },
  { xMatch: typed("i", 7), text: "Invalid x-match field type unsignedint (value 7); expected longstr" },
  { xMatch: typed("B", 7), text: "Invalid x-match field type unsignedbyte (value 7); expected longstr" },
  { xMatch: typed("u", 7), text: "Invalid x-match field type unsignedshort (value 7); expected longstr" },
  { xMatch: typed("s", -7), text: "Invalid x-match field type short (value -7); expected longstr" },
  { xMatch: typed("b", -7), text: "Invalid x-match field type byte (value -7); expected longstr" },
  { xMatch: 1.5, text: "Invalid x-match field type double (value 1.5); expected longstr" },
  { xMatch: -2.5, text: "Invalid x-match field type double (value -2.5); expected longstr" },
  { xMatch: typed("d", 100), text: "Invalid x-match field type double (value 100.0); expected longstr" },
  { xMatch: typed("d", 1e21), text: "Invalid x-match field type double (value 1.0e21); expected longstr" },
  { xMatch: typed("d", 1e16), text: "Invalid x-match field type double (value 1.0e16); expected longstr" },
  { xMatch: 1e-5, text: "Invalid x-match field type double (value 1.0e-5); expected longstr" },
  { xMatch: 0.1, text: "Invalid x-match field type double (value 0.1); expected longstr" },
  { xMatch: typed("d", 0), text: "Invalid x-match field type double (value 0.0); expected longstr" },
  { xMatch: 0.001, text: "Invalid x-match field type double (value 0.001); expected longstr" },
  { xMatch: 0.0001, text: "Invalid x-match field type double (value 0.0001); expected longstr" },
  { xMatch: typed("d", 10000), text: "Invalid x-match field type double (value 1.0e4); expected longstr" },
  { xMatch: typed("d", 100000), text: "Invalid x-match field type double (value 1.0e5); expected longstr" },
  { xMatch: typed("d", 1.2e6), text: "Invalid x-match field type double (value 1.2e6); expected longstr" },
  {
    xMatch: typed("d", 12345678),
    text: "Invalid x-match field type double (value 12345678.0); expected longstr",
  },
  {
    xMatch: typed("d", 2 ** 53),
    text: "Invalid x-match field type double (value 9.007199254740992e15); expected longstr",
  },
  {
    xMatch: typed("d", 2 ** 60),
    text: "Invalid x-match field type double (value 1.152921504606847e18); expected longstr",
  },
  { xMatch: 5e-324, text: "Invalid x-match field type double (value 5.0e-324); expected longstr" },
  { xMatch: 0.000123, text: "Invalid x-match field type double (value 1.23e-4); expected longstr" },
  { xMatch: 0.00123, text: "Invalid x-match field type double (value 0.00123); expected longstr" },
  {
    xMatch: typed("d", 2 ** 53 + 2),
    text: "Invalid x-match field type double (value 9.007199254740994e15); expected longstr",
  },
  { xMatch: typed("d", 1e15), text: "Invalid x-match field type double (value 1.0e15); expected longstr" },
  { xMatch: 123.456, text: "Invalid x-match field type double (value 123.456); expected longstr" },
  {
    xMatch: 123456789.125,
    text: "Invalid x-match field type double (value 123456789.125); expected longstr",
  },
  {
    xMatch: typed("f", Math.fround(0.1)),
    text: "Invalid x-match field type float (value 0.10000000149011612); expected longstr",
  },
  { xMatch: decimal(2, 314), text: "Invalid x-match field type decimal (value {2,314}); expected longstr" },
  {
    xMatch: ts(1700000000),
    text: "Invalid x-match field type timestamp (value 1700000000); expected longstr",
  },
  { xMatch: bytes("all"), text: 'Invalid x-match field type binary (value <<"all">>); expected longstr' },
  {
    xMatch: new Uint8Array([1, 2, 255]),
    text: "Invalid x-match field type binary (value <<1,2,255>>); expected longstr",
  },
  { xMatch: true, text: "Invalid x-match field type bool (value true); expected longstr" },
  { xMatch: false, text: "Invalid x-match field type bool (value false); expected longstr" },
  { xMatch: null, text: "Invalid x-match field type void (value undefined); expected longstr" },
  {
    xMatch: { a: typed("b", 1) },
    text: 'Invalid x-match field type table (value [{<<"a">>,byte,1}]); expected longstr',
  },
  { xMatch: [], text: "Invalid x-match field type array (value []); expected longstr" },
  { xMatch: {}, text: "Invalid x-match field type table (value []); expected longstr" },
];

function binding(queue: string, args: FieldTable, routingKey = ""): Binding {
  return { destination: { kind: "queue", name: queue }, routingKey, args };
}

function routed(router: HeadersRouter, headers: FieldTable | undefined, routingKey = "rk"): string[] {
  const queues: string[] = [];
  router.route({ exchange: "h", routingKey, headers }, { queue: (q) => queues.push(q), exchange() {} });
  return queues;
}

for (const c of MATCH_CASES) {
  Deno.test(`HeadersRouter.route() matches as RabbitMQ: ${c.name}`, () => {
    const r = new HeadersRouter();
    assert.equal(r.bind(binding("q", c.args)), true);
    assert.deepEqual(routed(r, c.headers), c.match ? ["q"] : []);
  });
}

for (const c of REFUSED_CASES) {
  Deno.test(`HeadersRouter.bind() refuses with 406: ${JSON.stringify(c.text)}`, () => {
    const r = new HeadersRouter();
    assert.throws(
      () => r.bind(binding("q", { "x-match": c.xMatch, a: "1" })),
      (err: unknown) => {
        assert.ok(err instanceof AmqpError);
        assert.equal(err.code, 406);
        assert.equal(err.message, `PRECONDITION_FAILED - ${c.text}`);
        return true;
      },
    );
    assert.equal(r.size, 0, "a refused binding was kept");
  });
}

Deno.test("HeadersRouter.route() ignores the routing key", () => {
  const r = new HeadersRouter();
  r.bind(binding("q", { a: "1" }, "some.key"));
  assert.deepEqual(routed(r, { a: "1" }, "another.key"), ["q"]);
  assert.deepEqual(routed(r, { a: "1" }, ""), ["q"]);
});

Deno.test("HeadersRouter.route() reaches every matching binding, in bind order", () => {
  const r = new HeadersRouter();
  r.bind(binding("pdf", { format: "pdf" }));
  r.bind(binding("eu", { region: "eu" }));
  r.bind(binding("both", { format: "pdf", region: "eu" }));
  r.bind(binding("either", { "x-match": "any", format: "pdf", region: "eu" }));
  r.bind(binding("everything", {}));
  assert.deepEqual(routed(r, { format: "pdf", region: "eu" }), ["pdf", "eu", "both", "either", "everything"]);
  assert.deepEqual(routed(r, { format: "pdf", region: "us" }), ["pdf", "either", "everything"]);
  assert.deepEqual(routed(r, undefined), ["everything"]);
});

Deno.test("HeadersRouter.route() does not see Object.prototype members as headers", () => {
  const r = new HeadersRouter();
  r.bind(binding("q1", { constructor: null }));
  r.bind(binding("q2", { "x-match": "any", toString: null, hasOwnProperty: null }));
  const proto: FieldTable = {};
  Object.defineProperty(proto, "__proto__", { value: null, enumerable: true });
  r.bind(binding("q3", proto));
  assert.deepEqual(routed(r, { a: 1 }), []);
  const own: FieldTable = { constructor: "c", toString: 1 };
  Object.defineProperty(own, "__proto__", { value: "p", enumerable: true });
  assert.deepEqual(routed(r, own), ["q1", "q2", "q3"]);
});

Deno.test("HeadersRouter.bind() treats bindings differing only in arguments as distinct", () => {
  const r = new HeadersRouter();
  assert.equal(r.bind(binding("q", { a: "1" })), true);
  assert.equal(r.bind(binding("q", { a: "2" })), true);
  assert.equal(r.bind(binding("q", { a: "1" })), false);
  assert.equal(r.size, 2);
  assert.deepEqual(routed(r, { a: "2" }), ["q"]);
  assert.equal(r.unbind(binding("q", { a: "1" })), true);
  assert.deepEqual(routed(r, { a: "1" }), []);
  assert.deepEqual([...r.bindings()].map((b) => b.args), [{ a: "2" }]);
});

Deno.test("HeadersRouter.route() routes an exchange destination through out.exchange()", () => {
  const r = new HeadersRouter();
  r.bind({ destination: { kind: "exchange", name: "e2" }, routingKey: "", args: { "x-match": "any", a: 1 } });
  const exchanges: string[] = [];
  r.route({ exchange: "h", routingKey: "k", headers: { a: 1 } }, {
    queue() {},
    exchange: (e) => exchanges.push(e),
  });
  assert.deepEqual(exchanges, ["e2"]);
});
