/**
 * The `topic` exchange type: binding keys are dot-separated patterns where `*` matches exactly one
 * word and `#` matches zero or more words, with RabbitMQ's semantics to the letter.
 *
 * Words are what lies between dots, so empty words count: `a..b` has three words (`a`, ``, `b`),
 * `a.` has two, `.` has two empty words. The one exception is the empty string, which has **no**
 * words at all (RabbitMQ's `split_topic_key(<<>>) -> []`): an empty routing key matches the
 * patterns `` and `#` (and `#.#`…) but not `*`. `topic_test.ts` holds the corner cases as checked
 * against RabbitMQ 3.10.
 *
 * Responsible for: one exchange's bindings, held in a trie, and a small cache of recent routing
 * keys. Owns: the trie, the word table, the cache, and the scratch buffers `route()` reuses.
 *
 * Why a trie and not a regex per binding: bind time splits the pattern once and walks it into
 * the trie, so `route()` costs what the key's words reach, not the number of bindings (with
 * 10,000 random bindings a key visits a few dozen nodes). Each node has literal children (one per
 * word), one `*` child and one `#` child, and the bindings whose pattern ends there.
 *
 * Why words become ids: bind time interns every literal word to a small integer. A miss looks
 * each word of the routing key up once, hashing it in place (no `split`, no substrings), and the
 * walk then compares integers; a word no pattern uses skips every literal lookup. The walk got
 * about 15% faster than with a substring looked up in a Map per node (bench/routing_bench.ts).
 *
 * Why the trie lives in typed arrays: a node is an index; its `*` and `#` children and its
 * bookkeeping are entries of `Int32Array`s, and every literal edge of the trie sits in one
 * open-addressed table keyed by (parent, word id). The 10,000 random bindings of the benchmark
 * take about 0.7 MiB this way, against 4.2 MiB as node objects each with its own Map, at the same
 * routing speed.
 *
 * Why each node knows how deep its subtree goes: a miss walks every branch a key's words allow,
 * and most of them end in patterns of the wrong length. Each node keeps the fewest and most words
 * a match below it can still consume (`#minRest`, `#maxRest`, unbounded under a `#`), so the
 * walk drops a branch as soon as the words left cannot fit, and a `#` tries only the splits that
 * can. A 32-bit filter of each node's literal children (`#literalBits`) then spares most lookups
 * in the edge table that would find nothing. Together they took cache misses in
 * bench/routing_bench.ts from about 0.49M to 0.63M routes/s; bind and unbind keep both exact.
 *
 * Why a cache: real traffic repeats a small set of routing keys, and a repeated key is then one
 * `Map` lookup and a loop over a prebuilt array, allocating nothing. It holds the matched nodes,
 * not their bindings: a miss copies a few dozen numbers rather than every binding (in the
 * benchmark, ~13 nodes instead of ~170 bindings, and misses ran twice as fast), and
 * a full cache does not grow with the bindings per node (1024 keys × a `#` bound to 10,000 queues
 * would be ten million entries). Any bind or unbind clears it, so it is never stale.
 *
 * @module
 */

import {
  type BindableRouter,
  type Binding,
  type ExchangeTypePlugin,
  type RouteSink,
  type RoutingInput,
  sameBinding,
} from "../api.ts";

/**
 * Most routing keys the cache holds per exchange. When full it is cleared as a whole (cheaper
 * than tracking recency on every hit, and allocation-free): a hot key then costs one miss per
 * 1024 misses. The bound caps one exchange's cache at about 1024 keys of at most 255 bytes (a
 * shortstr) plus their node lists, tens of KiB, and keeps an exchange whose keys never repeat
 * (ids in keys) from growing it without limit.
 */
const CACHE_LIMIT = 1024;

const DOT = 46; // "."
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/**
 * Word hashes are kept within 30 bits so they stay small integers (V8 Smis): a larger number
 * used as a Map key would be boxed, that is allocated, on every lookup.
 */
const HASH_MASK = 0x3fffffff;
/** Match epochs wrap here (a Smi bound too); at the wrap every mark in the trie is reset. */
const EPOCH_LIMIT = 0x3fffffff;

/** The root is node 0, which is never anyone's child: so 0 also means "no child". */
const ROOT = 0;
const NONE = 0;
/** `#edge` of a node that is its parent's `*` or `#` child (literal children hold a word id ≥ 0). */
const STAR_EDGE = -1;
const HASH_EDGE = -2;
const INITIAL_NODES = 64;
/**
 * "Unbounded" in the per-node depth bounds (`#minRest`, `#maxRest`): above any key's or
 * pattern's word count, since a JavaScript string holds fewer than 2^30 code units.
 */
const UNBOUNDED = 0x3fffffff;

const NO_NODES: readonly number[] = Object.freeze([]);

/** @internal FNV-1a over the UTF-16 code units of `s[start, end)`, masked to 30 bits. */
export function hashWord(s: string, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h & HASH_MASK;
}

/** Words of a key or pattern: `""` has none, anything else splits on every dot. */
function splitWords(key: string): string[] {
  return key === "" ? [] : key.split(".");
}

/** Slot of the (parent, word) edge in a table of `mask + 1` slots: a multiplicative mix of both. */
function edgeSlot(parent: number, word: number, mask: number): number {
  const h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(word, 0x85ebca6b);
  return (h ^ (h >>> 15)) & mask;
}

/** A literal word used by some binding pattern, with a small integer id. */
class Word {
  readonly text: string;
  readonly hash: number;
  readonly id: number;
  /** Trie nodes whose edge is this word; at zero the word leaves the table and frees its id. */
  uses = 0;
  /** The next word in the table with the same hash. */
  next: Word | undefined = undefined;

  constructor(text: string, hash: number, id: number) {
    this.text = text;
    this.hash = hash;
    this.id = id;
  }
}

/** Router for one topic exchange. */
export class TopicRouter implements BindableRouter {
  // ---- The trie: node n is index n of each array. ----
  /** `*` and `#` child of each node, or NONE. */
  #star = new Int32Array(INITIAL_NODES);
  #any = new Int32Array(INITIAL_NODES);
  #parent = new Int32Array(INITIAL_NODES);
  /** How a node hangs from its parent: a word id, STAR_EDGE or HASH_EDGE. */
  #edge = new Int32Array(INITIAL_NODES);
  /** Number of literal children. */
  #literals = new Int32Array(INITIAL_NODES);
  /** The epoch (match number) in which a `#` node was last explored (see `#skip`). */
  #skipEpoch = new Int32Array(INITIAL_NODES);
  /**
   * Fewest and most key words a match below the node can still consume: over every binding in
   * the node's subtree, the number of `*` and literal edges from the node down to it (so 0 for a
   * binding at the node itself), and UNBOUNDED for the most when a `#` lies on the way. A node
   * whose subtree holds no binding (only ever the root) has min UNBOUNDED and max -1. `#walk`
   * stops at a node when the words left in the key fall outside these bounds, and `#skip` lets
   * its `#` consume only as many words as leave a count within them. Kept exact: bind and unbind
   * recompute them along the path from the changed node to the root (`#updateBounds`).
   */
  #minRest = new Int32Array(INITIAL_NODES).fill(UNBOUNDED, 0, 1);
  #maxRest = new Int32Array(INITIAL_NODES).fill(-1, 0, 1);
  /**
   * A filter of each node's literal children: bit `id & 31` is set for the word id of each. A walk
   * tests it before looking the key's word up in the edge table, where most lookups would
   * otherwise find nothing (in the benchmark, two in three).
   */
  #literalBits = new Int32Array(INITIAL_NODES);
  /** Literal children of a node as a doubly linked list, for `#updateBounds` to go through. */
  #firstLiteral = new Int32Array(INITIAL_NODES);
  #nextLiteral = new Int32Array(INITIAL_NODES);
  #prevLiteral = new Int32Array(INITIAL_NODES);
  /** Bindings whose pattern ends at the node; undefined when there are none. */
  readonly #bindingsOf: (Binding[] | undefined)[] = [];
  /**
   * The same bindings' destination names, queues and exchanges apart, rebuilt at bind/unbind:
   * `route()` then hands out names without reading each binding's destination and testing its
   * kind, which doubled the rate of cache hits (bench/routing_bench.ts).
   */
  readonly #queuesOf: (string[] | undefined)[] = [];
  readonly #exchangesOf: (string[] | undefined)[] = [];
  /** Nodes in use or free: node indexes are below this. */
  #nodes = 1;
  readonly #freeNodes: number[] = [];

  // ---- Literal edges: open addressing, linear probing, at most half full. ----
  #edgeParent = new Int32Array(INITIAL_NODES);
  #edgeWord = new Int32Array(INITIAL_NODES);
  /** The child; NONE marks an empty slot. */
  #edgeChild = new Int32Array(INITIAL_NODES);
  #edgeCount = 0;

  // ---- Words: every literal word of the bound patterns, by hash (collisions chain). ----
  readonly #words = new Map<number, Word>();
  readonly #wordById: (Word | undefined)[] = [];
  readonly #freeIds: number[] = [];

  /** Routing key → the nodes it matched, whose bindings a hit routes to. */
  readonly #cache = new Map<string, readonly number[]>();
  #size = 0;

  // ---- Match state for one cache miss, kept here so the recursion passes only (node, i). ----
  #length = 0;
  #epoch = 0;
  /** Word ids of the routing key being matched (-1: no pattern has that word); grown on demand. */
  #ids = new Int32Array(16);
  /** Nodes matched so far, copied out into the cache. */
  readonly #found: number[] = [];

  route(input: RoutingInput, out: RouteSink): void {
    const key = input.routingKey;
    let nodes = this.#cache.get(key);
    if (nodes === undefined) nodes = this.#miss(key);
    const queuesOf = this.#queuesOf, exchangesOf = this.#exchangesOf;
    for (let i = 0; i < nodes.length; i++) {
      const queues = queuesOf[nodes[i]];
      if (queues !== undefined) { for (let j = 0; j < queues.length; j++) out.queue(queues[j]); }
      const exchanges = exchangesOf[nodes[i]];
      if (exchanges !== undefined) { for (let j = 0; j < exchanges.length; j++) out.exchange(exchanges[j]); }
    }
  }

  bind(binding: Binding): boolean {
    let node = ROOT;
    for (const text of splitWords(binding.routingKey)) {
      // (The new node is made before its parent's array is read: making it may grow the arrays.)
      if (text === "*") {
        let child = this.#star[node];
        if (child === NONE) {
          child = this.#newNode(node, STAR_EDGE);
          this.#star[node] = child;
        }
        node = child;
      } else if (text === "#") {
        let child = this.#any[node];
        if (child === NONE) {
          child = this.#newNode(node, HASH_EDGE);
          this.#any[node] = child;
        }
        node = child;
      } else {
        const word = this.#word(text, true)!;
        let child = this.#child(node, word.id);
        if (child === NONE) {
          child = this.#newNode(node, word.id);
          word.uses++;
          this.#literals[node]++;
          this.#addEdge(node, word.id, child);
          this.#linkLiteral(node, child);
        }
        node = child;
      }
    }
    const list = this.#bindingsOf[node];
    if (list === undefined) this.#bindingsOf[node] = [binding];
    else {
      for (const b of list) if (sameBinding(b, binding)) return false;
      list.push(binding);
    }
    this.#indexDestinations(node);
    this.#updateBounds(node);
    this.#size++;
    this.#cache.clear();
    return true;
  }

  unbind(binding: Binding): boolean {
    let node = ROOT;
    for (const text of splitWords(binding.routingKey)) {
      if (text === "*") node = this.#star[node];
      else if (text === "#") node = this.#any[node];
      else {
        const word = this.#word(text, false);
        node = word === undefined ? NONE : this.#child(node, word.id);
      }
      if (node === NONE) return false;
    }
    const list = this.#bindingsOf[node];
    const i = list === undefined ? -1 : list.findIndex((b) => sameBinding(b, binding));
    if (i < 0) return false;
    list!.splice(i, 1);
    if (list!.length === 0) this.#bindingsOf[node] = undefined;
    this.#indexDestinations(node);
    // Prune the nodes left with nothing, leaf upwards, so the trie never outgrows its bindings.
    while (node !== ROOT && this.#isEmpty(node)) {
      const parent = this.#parent[node];
      this.#removeNode(node);
      node = parent;
    }
    this.#updateBounds(node);
    this.#size--;
    this.#cache.clear();
    return true;
  }

  *bindings(): Iterable<Binding> {
    for (let n = 0; n < this.#nodes; n++) {
      const list = this.#bindingsOf[n];
      if (list !== undefined) yield* list;
    }
  }

  get size(): number {
    return this.#size;
  }

  /** @internal Routing keys currently cached (for tests). */
  get cacheSize(): number {
    return this.#cache.size;
  }

  /** @internal Nodes (the root included), literal edges and words in use (for tests of pruning). */
  get footprint(): { nodes: number; edges: number; words: number } {
    let words = 0;
    for (const w of this.#wordById) if (w !== undefined) words++;
    return { nodes: this.#nodes - this.#freeNodes.length, edges: this.#edgeCount, words };
  }

  /**
   * @internal Recomputes every live node's depth bounds and literal filter from the trie itself
   * (its children found through the edge table, not the sibling lists) and returns a description
   * of the first that differs from the stored one, or undefined when all agree (for tests).
   */
  checkIndexes(): string | undefined {
    const literalsOf = new Map<number, number[]>();
    for (let s = 0; s < this.#edgeChild.length; s++) {
      const child = this.#edgeChild[s];
      if (child === NONE) continue;
      const list = literalsOf.get(this.#edgeParent[s]) ?? [];
      list.push(child);
      literalsOf.set(this.#edgeParent[s], list);
    }
    let problem: string | undefined;
    const check = (node: number): [number, number] => {
      let min = this.#bindingsOf[node] === undefined ? UNBOUNDED : 0;
      let max = min === 0 ? 0 : -1;
      let bits = 0, linked = 0;
      const literals = literalsOf.get(node) ?? [];
      for (let c = this.#firstLiteral[node]; c !== NONE; c = this.#nextLiteral[c]) linked++;
      const step = (child: number) => {
        const [cmin, cmax] = check(child);
        min = Math.min(min, cmin + 1);
        max = Math.max(max, cmax >= UNBOUNDED ? UNBOUNDED : cmax + 1);
      };
      for (const c of literals) {
        bits |= 1 << (this.#edge[c] & 31);
        step(c);
      }
      if (this.#star[node] !== NONE) step(this.#star[node]);
      if (this.#any[node] !== NONE) {
        min = Math.min(min, check(this.#any[node])[0]);
        max = UNBOUNDED;
      }
      if (problem === undefined) {
        if (min !== this.#minRest[node] || max !== this.#maxRest[node]) {
          problem = `node ${node}: bounds [${this.#minRest[node]}, ${
            this.#maxRest[node]
          }], expected [${min}, ${max}]`;
        } else if (bits !== this.#literalBits[node]) {
          problem = `node ${node}: literal filter ${this.#literalBits[node]}, expected ${bits}`;
        } else if (linked !== literals.length || linked !== this.#literals[node]) {
          problem = `node ${node}: ${linked} linked literal children, ${literals.length} in the edge table`;
        }
      }
      return [min, max];
    };
    check(ROOT);
    return problem;
  }

  // ---- Matching ----------------------------------------------------------------------------

  /** Matches `key` against the trie and caches the result. Allocates only the cached array. */
  #miss(key: string): readonly number[] {
    this.#scan(key);
    if (++this.#epoch > EPOCH_LIMIT) {
      this.#skipEpoch.fill(0);
      this.#epoch = 1;
    }
    this.#walk(ROOT, 0);
    const found = this.#found;
    const list = found.length === 0 ? NO_NODES : found.slice();
    found.length = 0;
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(key, list);
    return list;
  }

  /** Splits `key` in place: each word is hashed and looked up in the word table, no substrings. */
  #scan(key: string): void {
    const len = key.length;
    if (len + 1 > this.#ids.length) this.#ids = new Int32Array(Math.max(len + 1, this.#ids.length * 2));
    if (len === 0) {
      this.#length = 0;
      return;
    }
    const ids = this.#ids;
    let n = 0, start = 0, h = FNV_OFFSET;
    for (let i = 0; i <= len; i++) {
      const c = i === len ? DOT : key.charCodeAt(i);
      if (c !== DOT) {
        h = Math.imul(h ^ c, FNV_PRIME);
        continue;
      }
      let w = this.#words.get(h & HASH_MASK);
      while (w !== undefined && !(w.text.length === i - start && key.startsWith(w.text, start))) w = w.next;
      ids[n++] = w === undefined ? -1 : w.id;
      start = i + 1;
      h = FNV_OFFSET;
    }
    this.#length = n;
  }

  /** Collects what `node` matches given that words `0..i-1` led to it. */
  #walk(node: number, i: number): void {
    const rest = this.#length - i;
    if (rest < this.#minRest[node] || rest > this.#maxRest[node]) return;
    if (rest === 0) {
      if (this.#bindingsOf[node] !== undefined) this.#found.push(node);
      const any = this.#any[node];
      if (any !== NONE) this.#skip(any, i); // `#` matching zero words at the end
      return;
    }
    const id = this.#ids[i];
    if (id >= 0 && (this.#literalBits[node] & (1 << (id & 31))) !== 0) {
      const child = this.#child(node, id);
      if (child !== NONE) this.#walk(child, i + 1);
    }
    const star = this.#star[node];
    if (star !== NONE) this.#walk(star, i + 1);
    const any = this.#any[node];
    if (any !== NONE) this.#skip(any, i);
  }

  /**
   * `node` hangs under a `#` reached at word `i`: the `#` may consume words `i..k-1` for every
   * `k` from `i` to the end (the standard backtracking).
   *
   * A `#` node can be reached more than once in a match, at different indexes, through the `#`s
   * above it (`#.#.x`), but never first at a higher index: the walk is depth-first and every `#`
   * above tries its smallest `k` first, so the first arrival is at the lowest index and explores
   * everything later arrivals would. Those are skipped. So each (node, word index) pair is walked
   * at most once per match: no binding is collected twice, and the work is bounded by nodes ×
   * words where plain backtracking grows exponentially with the number of `#`s. The depth bounds
   * keep this true: an arrival at `i` tries the k in `[max(i, length - max), length - min]`, which
   * holds every k a later arrival at a higher index would try.
   */
  #skip(node: number, i: number): void {
    if (this.#skipEpoch[node] === this.#epoch) return;
    this.#skipEpoch[node] = this.#epoch;
    // Only the k that leave `length - k` words within the node's bounds can match (see #minRest).
    const length = this.#length;
    const last = length - this.#minRest[node];
    for (let k = Math.max(i, length - this.#maxRest[node]); k <= last; k++) this.#walk(node, k);
  }

  /** The literal child of `parent` for word `word`, or NONE. */
  #child(parent: number, word: number): number {
    const edgeParent = this.#edgeParent, edgeWord = this.#edgeWord, edgeChild = this.#edgeChild;
    const mask = edgeChild.length - 1;
    for (let s = edgeSlot(parent, word, mask);; s = (s + 1) & mask) {
      const child = edgeChild[s];
      if (child === NONE || (edgeParent[s] === parent && edgeWord[s] === word)) return child;
    }
  }

  // ---- Building and pruning ---------------------------------------------------------------

  /** The table entry for a literal word; with `create`, adds it (with no uses yet) if missing. */
  #word(text: string, create: boolean): Word | undefined {
    const hash = hashWord(text, 0, text.length);
    const head = this.#words.get(hash);
    for (let w = head; w !== undefined; w = w.next) if (w.text === text) return w;
    if (!create) return undefined;
    const word = new Word(text, hash, this.#freeIds.pop() ?? this.#wordById.length);
    word.next = head;
    this.#words.set(hash, word);
    this.#wordById[word.id] = word;
    return word;
  }

  #releaseWord(id: number): void {
    const word = this.#wordById[id]!;
    if (--word.uses > 0) return;
    const head = this.#words.get(word.hash)!;
    if (head === word) {
      if (word.next !== undefined) this.#words.set(word.hash, word.next);
      else this.#words.delete(word.hash);
    } else {
      let prev = head;
      while (prev.next !== word) prev = prev.next!;
      prev.next = word.next;
    }
    this.#wordById[id] = undefined;
    this.#freeIds.push(id);
  }

  /** Rebuilds the destination names of a node from its bindings. */
  #indexDestinations(node: number): void {
    let queues: string[] | undefined, exchanges: string[] | undefined;
    for (const b of this.#bindingsOf[node] ?? []) {
      if (b.destination.kind === "queue") (queues ??= []).push(b.destination.name);
      else (exchanges ??= []).push(b.destination.name);
    }
    this.#queuesOf[node] = queues;
    this.#exchangesOf[node] = exchanges;
  }

  #newNode(parent: number, edge: number): number {
    let node = this.#freeNodes.pop();
    if (node === undefined) {
      node = this.#nodes++;
      if (node === this.#star.length) this.#growNodes();
    }
    this.#parent[node] = parent;
    this.#edge[node] = edge;
    this.#minRest[node] = UNBOUNDED;
    this.#maxRest[node] = -1;
    this.#firstLiteral[node] = NONE;
    return node;
  }

  #isEmpty(node: number): boolean {
    return this.#bindingsOf[node] === undefined && this.#star[node] === NONE && this.#any[node] === NONE &&
      this.#literals[node] === 0;
  }

  /** Unhooks an empty node from its parent and frees it. */
  #removeNode(node: number): void {
    const parent = this.#parent[node], edge = this.#edge[node];
    if (edge === STAR_EDGE) this.#star[parent] = NONE;
    else if (edge === HASH_EDGE) this.#any[parent] = NONE;
    else {
      this.#deleteEdge(parent, edge);
      this.#unlinkLiteral(parent, node);
      this.#literals[parent]--;
      this.#releaseWord(edge);
    }
    this.#skipEpoch[node] = 0;
    this.#freeNodes.push(node);
  }

  #growNodes(): void {
    const grow = (a: Int32Array) => {
      const b = new Int32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.#star = grow(this.#star);
    this.#any = grow(this.#any);
    this.#parent = grow(this.#parent);
    this.#edge = grow(this.#edge);
    this.#literals = grow(this.#literals);
    this.#skipEpoch = grow(this.#skipEpoch);
    this.#minRest = grow(this.#minRest);
    this.#maxRest = grow(this.#maxRest);
    this.#firstLiteral = grow(this.#firstLiteral);
    this.#nextLiteral = grow(this.#nextLiteral);
    this.#prevLiteral = grow(this.#prevLiteral);
    this.#literalBits = grow(this.#literalBits);
  }

  /**
   * Recomputes the depth bounds of `node` from its bindings and children, then of its ancestors,
   * stopping at the first whose bounds come out unchanged (those above it cannot change either).
   */
  #updateBounds(node: number): void {
    for (;;) {
      let min = this.#bindingsOf[node] === undefined ? UNBOUNDED : 0;
      let max = min === 0 ? 0 : -1;
      const star = this.#star[node];
      if (star !== NONE) {
        min = Math.min(min, this.#minRest[star] + 1);
        max = Math.max(max, this.#maxRest[star] >= UNBOUNDED ? UNBOUNDED : this.#maxRest[star] + 1);
      }
      for (let c = this.#firstLiteral[node]; c !== NONE; c = this.#nextLiteral[c]) {
        min = Math.min(min, this.#minRest[c] + 1);
        max = Math.max(max, this.#maxRest[c] >= UNBOUNDED ? UNBOUNDED : this.#maxRest[c] + 1);
      }
      const any = this.#any[node];
      if (any !== NONE) {
        // The `#` itself consumes no word or any number: a binding below it bounds only the fewest.
        min = Math.min(min, this.#minRest[any]);
        max = UNBOUNDED;
      }
      if (min > UNBOUNDED) min = UNBOUNDED;
      if (min === this.#minRest[node] && max === this.#maxRest[node]) return;
      this.#minRest[node] = min;
      this.#maxRest[node] = max;
      if (node === ROOT) return;
      node = this.#parent[node];
    }
  }

  #linkLiteral(parent: number, child: number): void {
    this.#literalBits[parent] |= 1 << (this.#edge[child] & 31);
    const first = this.#firstLiteral[parent];
    this.#nextLiteral[child] = first;
    this.#prevLiteral[child] = NONE;
    if (first !== NONE) this.#prevLiteral[first] = child;
    this.#firstLiteral[parent] = child;
  }

  #unlinkLiteral(parent: number, child: number): void {
    const next = this.#nextLiteral[child], prev = this.#prevLiteral[child];
    if (prev === NONE) this.#firstLiteral[parent] = next;
    else this.#nextLiteral[prev] = next;
    if (next !== NONE) this.#prevLiteral[next] = prev;
    let bits = 0;
    for (let c = this.#firstLiteral[parent]; c !== NONE; c = this.#nextLiteral[c]) {
      bits |= 1 << (this.#edge[c] & 31);
    }
    this.#literalBits[parent] = bits;
  }

  #addEdge(parent: number, word: number, child: number): void {
    if ((this.#edgeCount + 1) * 2 > this.#edgeChild.length) this.#rehash(this.#edgeChild.length * 2);
    this.#putEdge(parent, word, child);
    this.#edgeCount++;
  }

  #putEdge(parent: number, word: number, child: number): void {
    const mask = this.#edgeChild.length - 1;
    let s = edgeSlot(parent, word, mask);
    while (this.#edgeChild[s] !== NONE) s = (s + 1) & mask;
    this.#edgeParent[s] = parent;
    this.#edgeWord[s] = word;
    this.#edgeChild[s] = child;
  }

  #rehash(capacity: number): void {
    const parents = this.#edgeParent, words = this.#edgeWord, children = this.#edgeChild;
    this.#edgeParent = new Int32Array(capacity);
    this.#edgeWord = new Int32Array(capacity);
    this.#edgeChild = new Int32Array(capacity);
    for (let s = 0; s < children.length; s++) {
      if (children[s] !== NONE) this.#putEdge(parents[s], words[s], children[s]);
    }
  }

  /** Removes an edge, shifting later entries of its probe run back (no tombstones). */
  #deleteEdge(parent: number, word: number): void {
    const edgeParent = this.#edgeParent, edgeWord = this.#edgeWord, edgeChild = this.#edgeChild;
    const mask = edgeChild.length - 1;
    let hole = edgeSlot(parent, word, mask);
    while (edgeParent[hole] !== parent || edgeWord[hole] !== word) hole = (hole + 1) & mask;
    for (let s = (hole + 1) & mask; edgeChild[s] !== NONE; s = (s + 1) & mask) {
      const home = edgeSlot(edgeParent[s], edgeWord[s], mask);
      // The entry at s may move into the hole unless its home lies cyclically in (hole, s].
      const stays = hole <= s ? hole < home && home <= s : hole < home || home <= s;
      if (stays) continue;
      edgeParent[hole] = edgeParent[s];
      edgeWord[hole] = edgeWord[s];
      edgeChild[hole] = edgeChild[s];
      hole = s;
    }
    edgeChild[hole] = NONE;
    this.#edgeCount--;
  }
}

/** The `topic` exchange type plugin. */
export const topicPlugin: ExchangeTypePlugin = {
  name: "topic",
  stage: "exchange",
  create: () => new TopicRouter(),
};
