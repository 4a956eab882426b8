import assert from "node:assert/strict";
import { routerConformance } from "../_conformance.ts";
import type { Binding, FieldTable, Owner, RouteSink } from "../api.ts";
import { hashWord, topicPlugin, TopicRouter } from "./topic.ts";
import { prng } from "../../tests/_prng.ts";

for (
  const c of routerConformance({
    plugin: topicPlugin,
    match: { bindingKey: "orders.*.eu.#", routingKey: "orders.new.eu" },
    miss: { routingKey: "orders.new.us" },
  })
) {
  Deno.test({ name: `topic: ${c.name}`, ignore: c.ignore !== undefined, fn: c.fn });
}

const OWNER: Owner = { name: "t", vhost: "/", effectiveArg: () => undefined };

function queueBinding(queue: string, routingKey: string, args: FieldTable = {}): Binding {
  return { destination: { kind: "queue", name: queue }, routingKey, args };
}

class Collector implements RouteSink {
  queues: string[] = [];
  exchanges: string[] = [];
  queue(name: string): void {
    this.queues.push(name);
  }
  exchange(name: string): void {
    this.exchanges.push(name);
  }
}

/** Queues reached by `key`, sorted (duplicates kept, so a binding reached twice shows). */
function routed(router: TopicRouter, key: string): string[] {
  const out = new Collector();
  router.route({ exchange: "t", routingKey: key, headers: undefined }, out);
  return out.queues.sort();
}

// Corner cases, each checked against RabbitMQ 3.10.8 (amqp://127.0.0.1:5682, a topic exchange,
// one queue per pattern, one publish per key, basic.get on every queue) on 2026-11-26.
// [pattern, key, matches, what it shows]
const CORNER_CASES: [string, string, boolean, string][] = [
  ["#", "", true, "# alone matches the empty key (zero words)"],
  ["#", "a.b.c", true, "# alone matches any number of words"],
  ["#", ".", true, "# matches two empty words"],
  ["#.#", "", true, "two #s may both take zero words"],
  ["#.#", "a", true, "#.# matches one word"],
  ["#.#.#", "a.b", true, "#.#.# matches like #"],
  ["a.#.b", "a.b", true, "# in the middle takes zero words"],
  ["a.#.b", "a.x.y.b", true, "# in the middle takes two words"],
  ["a.#.b", "a..b", true, "# takes one empty word"],
  ["a.#.b", "a.b.c", false, "the last word must still be b"],
  ["a.#.#.b", "a.b", true, "adjacent #s take zero words together"],
  ["*.*", "a", false, "*.* needs exactly two words"],
  ["*.*", "a.b", true, ""],
  ["*.*", ".", true, "`.` is two empty words, and * matches an empty word"],
  ["*.*", "a.b.c", false, ""],
  ["#.a", "a", true, "#.a: # takes zero words"],
  ["#.a", ".a", true, "#.a: # takes one empty word"],
  ["a.#", "a", true, "a.#: trailing # takes zero words"],
  ["a.#", "a.", true, "a.#: # takes one trailing empty word"],
  ["", "", true, "the empty pattern matches only the empty key"],
  ["", ".", false, ""],
  ["*", "", false, "the empty key has NO words (not one empty word), so * does not match it"],
  ["*", "a", true, ""],
  ["*", "*", true, "a routing key word `*` is just a word"],
  ["*.#", "", false, "*.# needs at least one word"],
  ["#.*", "", false, "#.* needs at least one word"],
  ["#.*", ".", true, ""],
  ["a..b", "a..b", true, "an empty word in a pattern is a literal empty word"],
  ["a..b", "a.x.b", false, ""],
  ["a.*.b", "a..b", true, "* matches an empty word"],
  ["a.*.b", "a.b", false, "* never takes zero words"],
  [".", ".", true, "pattern `.` is two empty words"],
  [".", "", false, ""],
  ["..", "..", true, ""],
  ["a.", "a.", true, "a trailing dot makes a trailing empty word"],
  ["a.", "a", false, "... so `a.` is not `a`"],
  ["a.*", "a.", true, "* matches the trailing empty word"],
  ["*.", "a.", true, ""],
  ["#.", "a.", true, ""],
  ["#.", "a", false, "#. needs a last empty word"],
  [".#", ".a", true, ""],
  ["#.b.#", "b", true, "both #s take zero words"],
  ["a", "a", true, ""],
  ["a", "a.b", false, ""],
];

Deno.test("TopicRouter.route() matches RabbitMQ's corner cases", () => {
  for (const [pattern, key, matches, why] of CORNER_CASES) {
    const r = new TopicRouter();
    r.bind(queueBinding("q", pattern));
    // Twice: the first route fills the cache, the second is answered from it.
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(routed(r, key), matches ? ["q"] : [], `'${pattern}' vs '${key}': ${why}`);
    }
  }
});

// The whole matrix RabbitMQ 3.10.8 answered: each pattern bound to its own queue on one topic
// exchange, every key published once; for each pattern, the keys its queue received.
const RABBIT_KEYS = [
  "",
  "a",
  "b",
  "a.b",
  "a..b",
  "a.x.b",
  ".",
  "..",
  "a.",
  ".a",
  "a.b.c",
  "a.a",
  "a.x.y.b",
  "b.a",
  "x.a",
  "*",
  "#",
  "a.b.b",
  "a.b.a",
  "...",
  "a.b.",
];
const ALL_KEYS = RABBIT_KEYS;
const ALL_BUT_EMPTY = RABBIT_KEYS.filter((k) => k !== "");
const RABBIT_MATRIX: [string, string[]][] = [
  ["", [""]],
  ["*", ["a", "b", "*", "#"]],
  ["#", ALL_KEYS],
  ["#.#", ALL_KEYS],
  ["#.#.#", ALL_KEYS],
  ["*.#", ALL_BUT_EMPTY],
  ["#.*", ALL_BUT_EMPTY],
  ["#.*.#", ALL_BUT_EMPTY],
  ["a.#.b", ["a.b", "a..b", "a.x.b", "a.x.y.b", "a.b.b"]],
  ["a.#.#.b", ["a.b", "a..b", "a.x.b", "a.x.y.b", "a.b.b"]],
  ["*.*", ["a.b", ".", "a.", ".a", "a.a", "b.a", "x.a"]],
  ["#.a", ["a", ".a", "a.a", "b.a", "x.a", "a.b.a"]],
  ["a.#", ["a", "a.b", "a..b", "a.x.b", "a.", "a.b.c", "a.a", "a.x.y.b", "a.b.b", "a.b.a", "a.b."]],
  ["a..b", ["a..b"]],
  ["a.*.b", ["a..b", "a.x.b", "a.b.b"]],
  [".", ["."]],
  ["a.", ["a."]],
  [".a", [".a"]],
  ["a.*", ["a.b", "a.", "a.a"]],
  ["*.", [".", "a."]],
  [".*", [".", ".a"]],
  ["#.", [".", "..", "a.", "...", "a.b."]],
  [".#", [".", "..", ".a", "..."]],
  ["#.b.#", ["b", "a.b", "a..b", "a.x.b", "a.b.c", "a.x.y.b", "b.a", "a.b.b", "a.b.a", "a.b."]],
  ["a.*.#", ["a.b", "a..b", "a.x.b", "a.", "a.b.c", "a.a", "a.x.y.b", "a.b.b", "a.b.a", "a.b."]],
  ["a.#.*", ["a.b", "a..b", "a.x.b", "a.", "a.b.c", "a.a", "a.x.y.b", "a.b.b", "a.b.a", "a.b."]],
  ["*.*.*", ["a..b", "a.x.b", "..", "a.b.c", "a.b.b", "a.b.a", "a.b."]],
  ["a", ["a"]],
  ["..", [".."]],
];

Deno.test("TopicRouter.route() reproduces RabbitMQ's whole pattern × key matrix on one exchange", () => {
  const r = new TopicRouter();
  for (const [pattern] of RABBIT_MATRIX) r.bind(queueBinding(`q:${pattern}`, pattern));
  for (const key of RABBIT_KEYS) {
    const expected = RABBIT_MATRIX.filter(([, keys]) => keys.includes(key)).map(([p]) => `q:${p}`).sort();
    assert.deepEqual(routed(r, key), expected, `key '${key}'`);
    assert.deepEqual(routed(r, key), expected, `key '${key}' (cached)`);
  }
});

// ---- Property test against a plain reference matcher ----------------------------------------

/** Words as RabbitMQ splits them: the empty string has none. */
function words(s: string): string[] {
  return s === "" ? [] : s.split(".");
}

/** The reference: the definition of topic matching, written as plainly as possible. */
function referenceMatch(pattern: string[], key: string[]): boolean {
  if (pattern.length === 0) return key.length === 0;
  const [head, ...rest] = pattern;
  if (head === "#") {
    // # takes zero words, or one word and stays.
    return referenceMatch(rest, key) || (key.length > 0 && referenceMatch(pattern, key.slice(1)));
  }
  if (key.length === 0) return false;
  return (head === "*" || head === key[0]) && referenceMatch(rest, key.slice(1));
}

function randomKey(rand: () => number, alphabet: readonly string[]): string {
  const n = Math.floor(rand() * 6); // 0..5 words
  const ws: string[] = [];
  for (let i = 0; i < n; i++) ws.push(alphabet[Math.floor(rand() * alphabet.length)]);
  return ws.join(".");
}

const PATTERN_WORDS = ["a", "b", "c", "", "*", "#"];
const KEY_WORDS = ["a", "b", "c", ""];
// Routing keys may contain `*` and `#` too; they are plain words there.
const KEY_WORDS_WITH_WILDCARDS = ["a", "b", "c", "", "*", "#"];

function expectedQueues(patterns: readonly string[], key: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < patterns.length; i++) {
    if (referenceMatch(words(patterns[i]), words(key))) out.push(`q${i}`);
  }
  return out.sort();
}

Deno.test("TopicRouter.route() agrees with a reference matcher on seeded random patterns and keys", () => {
  let compared = 0;
  for (let seed = 1; seed <= 4; seed++) {
    const rand = prng(seed);
    const patterns: string[] = [];
    for (let i = 0; i < 150; i++) patterns.push(randomKey(rand, PATTERN_WORDS));
    const r = new TopicRouter();
    for (let i = 0; i < patterns.length; i++) assert.equal(r.bind(queueBinding(`q${i}`, patterns[i])), true);
    assert.equal(r.size, patterns.length);
    for (let j = 0; j < 600; j++) {
      const key = randomKey(rand, j % 4 === 0 ? KEY_WORDS_WITH_WILDCARDS : KEY_WORDS);
      const expected = expectedQueues(patterns, key);
      assert.deepEqual(routed(r, key), expected, `seed ${seed}, key '${key}'`);
      assert.deepEqual(routed(r, key), expected, `seed ${seed}, key '${key}' (cached)`);
      compared++;
    }
  }
  assert.equal(compared, 2400);
});

Deno.test("TopicRouter.route() agrees with the reference one pattern at a time", () => {
  // One binding per router isolates each pattern: every (pattern, key) pair is a separate check.
  const rand = prng(99);
  let checks = 0;
  for (let i = 0; i < 400; i++) {
    const pattern = randomKey(rand, PATTERN_WORDS);
    const r = new TopicRouter();
    r.bind(queueBinding("q", pattern));
    for (let j = 0; j < 10; j++) {
      const key = randomKey(rand, KEY_WORDS);
      const expected = referenceMatch(words(pattern), words(key)) ? ["q"] : [];
      assert.deepEqual(routed(r, key), expected, `'${pattern}' vs '${key}'`);
      checks++;
    }
  }
  assert.equal(checks, 4000);
});

Deno.test("TopicRouter.route() agrees with the reference on keys of 28 to 36 words", () => {
  // Keys of more than 31 words take another walk than shorter ones (a 32-bit set of word counts
  // cannot hold them); 31 and 32 are the edge. Long patterns are mostly `*` so that some match.
  const rand = prng(31);
  const patterns: string[] = ["#", "a.#", "#.b", "*.#.*", "#.a.#.b.#", "#.#.*"];
  for (let i = 0; i < 120; i++) {
    const n = 26 + Math.floor(rand() * 12);
    const ws: string[] = [];
    let hashes = 0;
    for (let j = 0; j < n; j++) {
      const p = rand();
      if (p < 0.04 && hashes < 2) {
        ws.push("#");
        hashes++;
      } else ws.push(p < 0.7 ? "*" : p < 0.85 ? "a" : "b");
    }
    patterns.push(ws.join("."));
  }
  const r = new TopicRouter();
  for (let i = 0; i < patterns.length; i++) r.bind(queueBinding(`q${i}`, patterns[i]));
  let matched = 0;
  for (let k = 0; k < 300; k++) {
    const n = 28 + (k % 9);
    const ws: string[] = [];
    for (let j = 0; j < n; j++) ws.push(rand() < 0.5 ? "a" : "b");
    const key = ws.join(".");
    const expected = expectedQueues(patterns, key);
    matched += expected.length;
    assert.deepEqual(routed(r, key), expected, `key of ${n} words '${key}'`);
    assert.deepEqual(routed(r, key), expected, `key of ${n} words '${key}' (cached)`);
  }
  assert.ok(matched > 600, `only ${matched} matches: the patterns no longer test much`);
});

Deno.test("TopicRouter.unbind() restores the earlier results and prunes the trie", () => {
  const rand = prng(7);
  const base: string[] = [];
  for (let i = 0; i < 60; i++) base.push(randomKey(rand, PATTERN_WORDS));
  const extra: string[] = [];
  for (let i = 0; i < 60; i++) extra.push(randomKey(rand, PATTERN_WORDS));
  const keys: string[] = [];
  for (let i = 0; i < 300; i++) keys.push(randomKey(rand, KEY_WORDS));

  const r = new TopicRouter();
  for (let i = 0; i < base.length; i++) r.bind(queueBinding(`q${i}`, base[i]));
  const before0 = r.footprint;
  const before = keys.map((k) => routed(r, k));

  // Extra bindings to other queues (some with patterns equal to base ones).
  for (let i = 0; i < extra.length; i++) r.bind(queueBinding(`x${i}`, extra[i]));
  const all = [...base, ...extra];
  for (const k of keys) {
    const expected = all.flatMap((p, i) =>
      referenceMatch(words(p), words(k)) ? [i < base.length ? `q${i}` : `x${i - base.length}`] : []
    ).sort();
    assert.deepEqual(routed(r, k), expected, `with extras, key '${k}'`);
  }

  for (let i = extra.length - 1; i >= 0; i--) assert.equal(r.unbind(queueBinding(`x${i}`, extra[i])), true);
  assert.equal(r.size, base.length);
  assert.deepEqual(r.footprint, before0, "unbind left nodes or words behind");
  assert.equal(r.checkIndexes(), undefined, "unbind left stale rest masks, filters or destinations");
  assert.deepEqual(keys.map((k) => routed(r, k)), before);

  for (let i = 0; i < base.length; i++) assert.equal(r.unbind(queueBinding(`q${i}`, base[i])), true);
  assert.equal(r.size, 0);
  assert.deepEqual(r.footprint, { nodes: 1, edges: 0, words: 0 }, "only the root should be left");
  assert.deepEqual([...r.bindings()], []);
  for (const k of keys) assert.deepEqual(routed(r, k), []);
});

Deno.test("TopicRouter bind()/unbind() churn keeps routing equal to the reference", () => {
  // Random binds and unbinds over a pool of patterns: exercises node reuse, the growth of the
  // node arrays and of the edge table, and deletion from the edge table's probe runs.
  const rand = prng(2024);
  const pool: string[] = [];
  for (let i = 0; i < 400; i++) pool.push(randomKey(rand, [...PATTERN_WORDS, "d", "e", "f", "gh", "ij"]));
  const keys: string[] = [];
  for (let i = 0; i < 150; i++) {
    keys.push(randomKey(rand, ["a", "b", "c", "", "d", "e", "f", "gh", "ij", "zz"]));
  }
  const r = new TopicRouter();
  const live = new Set<number>(); // pool indexes bound, to queue q<index>
  for (let round = 0; round < 12; round++) {
    for (let op = 0; op < 150; op++) {
      const i = Math.floor(rand() * pool.length);
      const b = queueBinding(`q${i}`, pool[i]);
      if (live.has(i)) {
        assert.equal(r.unbind(b), true);
        live.delete(i);
      } else {
        assert.equal(r.bind(b), true);
        live.add(i);
      }
    }
    assert.equal(r.size, live.size);
    assert.equal(r.checkIndexes(), undefined, `round ${round}`);
    for (const k of keys) {
      const expected = [...live].filter((i) => referenceMatch(words(pool[i]), words(k))).map((i) => `q${i}`);
      assert.deepEqual(routed(r, k), expected.sort(), `round ${round}, key '${k}'`);
    }
  }
  for (const i of live) assert.equal(r.unbind(queueBinding(`q${i}`, pool[i])), true);
  assert.deepEqual(r.footprint, { nodes: 1, edges: 0, words: 0 });
  assert.equal(r.checkIndexes(), undefined);
});

Deno.test("TopicRouter rest masks shrink back on unbind, and still admit every match", () => {
  const r = new TopicRouter();
  const bind = (q: string, k: string) => assert.equal(r.bind(queueBinding(q, k)), true);
  const unbind = (q: string, k: string) => assert.equal(r.unbind(queueBinding(q, k)), true);
  bind("short", "a.*");
  bind("long", "a.b.c.d.e");
  bind("any", "x.#.y");
  assert.equal(r.checkIndexes(), undefined);
  assert.deepEqual(routed(r, "a.b.c.d.e"), ["long"]);
  assert.deepEqual(routed(r, "x.y"), ["any"]);
  assert.deepEqual(routed(r, "x.1.2.3.4.5.6.7.y"), ["any"]);
  unbind("long", "a.b.c.d.e");
  unbind("any", "x.#.y");
  assert.equal(r.checkIndexes(), undefined);
  assert.deepEqual(routed(r, "a.b.c.d.e"), []);
  assert.deepEqual(routed(r, "a.b"), ["short"]);
  // A longer pattern again under the same nodes: the bounds grow back.
  bind("long", "a.b.c.d.e");
  bind("tail", "a.b.#");
  assert.equal(r.checkIndexes(), undefined);
  assert.deepEqual(routed(r, "a.b.c.d.e"), ["long", "tail"]);
  assert.deepEqual(routed(r, "a.b"), ["short", "tail"]);
  unbind("short", "a.*");
  unbind("tail", "a.b.#");
  assert.equal(r.checkIndexes(), undefined);
  assert.deepEqual(routed(r, "a.b"), []);
  assert.deepEqual(routed(r, "a.b.c.d.e"), ["long"]);
  unbind("long", "a.b.c.d.e");
  assert.equal(r.checkIndexes(), undefined);
  assert.deepEqual(r.footprint, { nodes: 1, edges: 0, words: 0 });
});

// ---- Bindings ------------------------------------------------------------------------------

Deno.test("TopicRouter.bind() tells bindings apart by destination, key and arguments", () => {
  const r = new TopicRouter();
  assert.equal(r.bind(queueBinding("q", "a.*")), true);
  assert.equal(r.bind(queueBinding("q", "a.*")), false);
  assert.equal(r.bind(queueBinding("q", "a.*", { x: 1 })), true);
  assert.equal(r.bind(queueBinding("q2", "a.*")), true);
  assert.equal(r.bind({ destination: { kind: "exchange", name: "q" }, routingKey: "a.*", args: {} }), true);
  assert.equal(r.bind(queueBinding("q", "a.#")), true);
  assert.equal(r.size, 5);
  assert.equal([...r.bindings()].length, 5);

  assert.equal(r.unbind(queueBinding("q", "a.*", { x: 2 })), false);
  assert.equal(r.unbind(queueBinding("q", "a.b")), false);
  assert.equal(r.unbind(queueBinding("q", "z.*.#")), false);
  assert.equal(r.size, 5);
  assert.equal(r.unbind(queueBinding("q", "a.*", { x: 1 })), true);
  assert.equal(r.size, 4);
});

Deno.test("TopicRouter.bind() stores equivalent runs of wildcards at one node, keeping each binding", () => {
  // `#.#` ≡ `#`, and `#.*` ≡ `*.#` ≡ `#.*.#` (one word or more): one node each.
  const r = new TopicRouter();
  const keys = ["a.#", "a.#.#", "a.#.#.#", "#.*", "*.#", "#.*.#", "*.#.*", "*.*.#", "#.#.b.*.#"];
  for (let i = 0; i < keys.length; i++) assert.equal(r.bind(queueBinding(`q${i}`, keys[i])), true);
  // root; a, a.#; *, *.#, *.*, *.*.#; #, #.b, #.b.*, #.b.*.#
  assert.equal(r.footprint.nodes, 11);
  assert.deepEqual([...r.bindings()].map((b) => b.routingKey).sort(), [...keys].sort());
  assert.deepEqual(routed(r, "a"), ["q0", "q1", "q2", "q3", "q4", "q5"]);
  assert.deepEqual(routed(r, "x.y"), ["q3", "q4", "q5", "q6", "q7"]);
  assert.deepEqual(routed(r, "b.c"), ["q3", "q4", "q5", "q6", "q7", "q8"]);
  assert.deepEqual(routed(r, ""), []);
  assert.equal(r.unbind(queueBinding("q3", "*.#")), false, "a binding is found by the key it was made with");
  assert.equal(r.unbind(queueBinding("q4", "#.*")), false);
  assert.equal(r.unbind(queueBinding("q3", "#.*")), true);
  assert.equal(r.unbind(queueBinding("q1", "a.#.#")), true);
  assert.deepEqual(routed(r, "a"), ["q0", "q2", "q4", "q5"]);
  assert.equal(r.checkIndexes(), undefined);
  for (const [i, k] of keys.entries()) r.unbind(queueBinding(`q${i}`, k));
  assert.deepEqual(r.footprint, { nodes: 1, edges: 0, words: 0 });
});

Deno.test("TopicRouter.bindings() lists every binding once", () => {
  const r = new TopicRouter();
  const keys = ["", "#", "*", "a", "a.b", "a.*", "a.#", "a..b", ".", "#.#", "b.*.#"];
  for (const k of keys) r.bind(queueBinding("q", k));
  assert.deepEqual([...r.bindings()].map((b) => b.routingKey).sort(), [...keys].sort());
});

Deno.test("TopicRouter.route() reaches a destination once per binding, however many paths match", () => {
  const r = new TopicRouter();
  r.bind(queueBinding("q", "#.#.#"));
  r.bind(queueBinding("q", "a.#"));
  r.bind({ destination: { kind: "exchange", name: "e" }, routingKey: "#.a.#.a.#", args: {} });
  const out = new Collector();
  r.route({ exchange: "t", routingKey: "a.a.a.a", headers: undefined }, out);
  // Two bindings to q (the kernel dedupes destinations), each collected once.
  assert.deepEqual(out.queues, ["q", "q"]);
  assert.deepEqual(out.exchanges, ["e"]);
});

Deno.test("TopicRouter.route() stays fast with many #s (no exponential backtracking)", () => {
  const r = new TopicRouter();
  const pattern = Array.from({ length: 30 }, () => "#").join(".") + ".z";
  r.bind(queueBinding("q", pattern));
  const key = Array.from({ length: 60 }, () => "a").join(".");
  const t0 = performance.now();
  assert.deepEqual(routed(r, key), []);
  assert.deepEqual(routed(r, key + ".z"), ["q"]);
  assert.ok(performance.now() - t0 < 1000, "matching took too long");
});

Deno.test("TopicRouter.route() tells apart words whose hashes collide", () => {
  // Found once by a birthday search over `w0`, `w1`, …; the assertion below keeps it honest.
  const pair = ["w358524", "w788200"];
  const [w1, w2] = pair;
  assert.equal(hashWord(w1, 0, w1.length), hashWord(w2, 0, w2.length));
  const r = new TopicRouter();
  r.bind(queueBinding("q1", `x.${w1}`));
  r.bind(queueBinding("q2", `x.${w2}`));
  r.bind(queueBinding("q3", `${w2}.#`));
  assert.deepEqual(routed(r, `x.${w1}`), ["q1"]);
  assert.deepEqual(routed(r, `x.${w2}`), ["q2"]);
  assert.deepEqual(routed(r, `${w1}.a`), []);
  assert.deepEqual(routed(r, `${w2}.a`), ["q3"]);
  // Unbinding either side of the collision chain keeps the other.
  assert.equal(r.unbind(queueBinding("q1", `x.${w1}`)), true);
  assert.deepEqual(routed(r, `x.${w2}`), ["q2"]);
  assert.equal(r.bind(queueBinding("q1", `x.${w1}`)), true);
  assert.equal(r.unbind(queueBinding("q2", `x.${w2}`)), true);
  assert.deepEqual(routed(r, `x.${w1}`), ["q1"]);
  assert.deepEqual(routed(r, `x.${w2}`), []);
});

Deno.test("TopicRouter.route() never aliases similar words", () => {
  const r = new TopicRouter();
  const ws = ["a", "aa", "A", "", "ab", "ba", "a*", "*a", "#a", "ä", "😀"];
  for (const w of ws) r.bind(queueBinding(`q:${w}`, `${w}.x`));
  for (const w of ws) assert.deepEqual(routed(r, `${w}.x`), [`q:${w}`], `word '${w}'`);
  assert.deepEqual(routed(r, "aaa.x"), []);
});

// ---- Cache ---------------------------------------------------------------------------------

Deno.test("TopicRouter cache: filled by route(), cleared by every bind and unbind", () => {
  const r = new TopicRouter();
  r.bind(queueBinding("q1", "a.*"));
  assert.equal(r.cacheSize, 0);
  assert.deepEqual(routed(r, "a.b"), ["q1"]);
  assert.deepEqual(routed(r, "c"), []); // a miss is cached too
  assert.equal(r.cacheSize, 2);
  assert.deepEqual(routed(r, "a.b"), ["q1"]);
  assert.equal(r.cacheSize, 2);

  assert.equal(r.bind(queueBinding("q2", "#")), true);
  assert.equal(r.cacheSize, 0, "bind() did not clear the cache");
  assert.deepEqual(routed(r, "a.b"), ["q1", "q2"]);
  assert.deepEqual(routed(r, "c"), ["q2"]);

  assert.equal(r.bind(queueBinding("q2", "#")), false);
  assert.equal(r.cacheSize, 2, "a duplicate bind() needs not clear the cache");

  assert.equal(r.unbind(queueBinding("q1", "a.*")), true);
  assert.equal(r.cacheSize, 0, "unbind() did not clear the cache");
  assert.deepEqual(routed(r, "a.b"), ["q2"]);
  assert.equal(r.unbind(queueBinding("q1", "a.*")), false);
  assert.equal(r.cacheSize, 1, "a failed unbind() needs not clear the cache");
});

Deno.test("TopicRouter cache: bounded at 1024 keys, still routing correctly past the bound", () => {
  const r = new TopicRouter();
  r.bind(queueBinding("q", "k.*"));
  for (let i = 0; i < 3000; i++) {
    assert.deepEqual(routed(r, `k.${i}`), ["q"]);
    assert.ok(r.cacheSize <= 1024, `cache holds ${r.cacheSize} keys`);
  }
  for (let i = 0; i < 3000; i += 97) assert.deepEqual(routed(r, `k.${i}`), ["q"]);
});

Deno.test("TopicRouter cache: cleared early when its results outgrow their bound, still routing correctly", () => {
  // Every pattern of up to 7 words over {a, *, #}: a key of a's reaches hundreds of nodes, so a
  // few hundred keys fill the results the cache keeps (1 MiB) long before 1024 keys.
  const patterns: string[] = [];
  const grow = (prefix: string[]) => {
    if (prefix.length > 0) patterns.push(prefix.join("."));
    if (prefix.length < 7) { for (const w of ["a", "*", "#"]) grow([...prefix, w]); }
  };
  grow([]);
  const r = new TopicRouter();
  for (let i = 0; i < patterns.length; i++) r.bind(queueBinding(`q${i}`, patterns[i]));
  const rand = prng(5);
  const keys: string[] = [];
  for (let i = 0; i < 800; i++) {
    const ws: string[] = [];
    for (let n = 6 + Math.floor(rand() * 6); n > 0; n--) ws.push(rand() < 0.8 ? "a" : "b");
    keys.push(ws.join("."));
  }
  let cleared = 0, before = 0;
  const first = keys.map((k) => {
    const queues = routed(r, k);
    if (r.cacheSize < before) cleared++;
    before = r.cacheSize;
    return queues;
  });
  assert.ok(cleared > 0, "the cache was never cleared early");
  for (let i = 0; i < keys.length; i++) assert.deepEqual(routed(r, keys[i]), first[i], `key '${keys[i]}'`);
  for (let i = 0; i < keys.length; i += 40) assert.deepEqual(first[i], expectedQueues(patterns, keys[i]));
});

Deno.test("topicPlugin is the `topic` exchange type", () => {
  assert.equal(topicPlugin.name, "topic");
  assert.equal(topicPlugin.stage, "exchange");
  assert.ok(topicPlugin.create(OWNER) instanceof TopicRouter);
});
