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
 * keys. Owns: the trie, the word table, the destination names, the cache with its result arena,
 * and the scratch buffers `route()` reuses.
 *
 * Why a trie and not a regex per binding: bind time splits the pattern once and walks it into
 * the trie, so `route()` costs what the key's words reach, not the number of bindings (with
 * 10,000 random bindings a key reaches a couple of dozen nodes). Each node has literal children
 * (one per word), one `*` child and one `#` child, and the bindings whose pattern ends there.
 *
 * Why words become ids: bind time interns every literal word to a small integer. A miss looks
 * each word of the routing key up once, hashing it in place (no `split`, no substrings), and the
 * walk then compares integers; a word no pattern uses skips every literal lookup.
 *
 * Why a miss visits each node once (`#walkShort`): the walk carries, per node, the *set* of word
 * counts still left in the key when the node is reached, as bits of one 32-bit integer. A `*` or
 * literal edge shifts the set down by one word, a `#` edge fills it (the `#` may take any number
 * of words), and the set is cut to the counts that can still end in a binding below the child
 * (its "rest mask", kept exact at bind and unbind). One visit per reached node then covers every
 * position the key could reach it at, where walking (node, word index) pairs visits a node under a
 * `#` once per index and needs memo marks to stay polynomial: in bench/routing_bench.ts, 25 node
 * visits per miss instead of 46 (and 18 once bind rewrites wildcard runs, see `patternWords`).
 * A key of more than 31 words does not fit the set and takes the per-index walk (`#walkLong`),
 * which is rare and kept simple.
 *
 * Why typed arrays with a child's mask stored in its parent: a miss touches a few dozen nodes
 * scattered among many (the benchmark's 10,000 random bindings make 14,000), so what a visit
 * reads is laid out to touch few cache lines. A node is one 32-byte record of `#hot` (children,
 * their rest masks, a literal filter, its destinations); literal edges sit in one open-addressed
 * table keyed by (parent, word id) whose slots hold the child's mask too. A child that cannot
 * match is so dropped without reading its record.
 *
 * Why the destination names sit in one array (`#names`): every node's queues and then exchanges
 * lie in one block of it, so handing a miss's ~170 destinations to the sink reads a few
 * contiguous runs. With two JS arrays per node, cold on a miss, that took ~450 ns; now ~200 ns.
 *
 * Why a cache: real traffic repeats a small set of routing keys, and a repeated key is then one
 * `Map` lookup and a loop over prebuilt runs of names, allocating nothing. A key maps to an
 * offset in `#results`, where a miss wrote its matched nodes' (block, queues, exchanges) triples:
 * no array per key, and a full cache does not grow with the bindings per node (1024 keys × a `#`
 * bound to 10,000 queues would be ten million entries). Any bind or unbind clears it, so it is
 * never stale; the sink only collects, and must not bind or unbind on this router mid-route.
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
 * shortstr) plus their results, and keeps an exchange whose keys never repeat (ids in keys)
 * from growing it without limit.
 */
const CACHE_LIMIT = 1024;
/**
 * Entries of `#results` past which the next miss clears the cache anyway: 1 MiB, for keys that
 * each match thousands of nodes. 1024 keys of the benchmark take about 25,000 (8 nodes each).
 */
const RESULTS_LIMIT = 1 << 18;

const DOT = 46; // "."
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Word hashes are kept within 30 bits so they stay small integers (V8 Smis), never boxed. */
const HASH_MASK = 0x3fffffff;
/** Epochs of `#walkLong` wrap here (a Smi bound too); at the wrap every mark is reset. */
const EPOCH_LIMIT = 0x3fffffff;

/** The root is node 0, which is never anyone's child: so 0 also means "no child". */
const ROOT = 0;
const NONE = 0;
/** `#edge` of a node that is its parent's `*` or `#` child (literal children hold a word id ≥ 0). */
const STAR_EDGE = -1;
const HASH_EDGE = -2;
const INITIAL_NODES = 64;

/**
 * Fields of a node's record in `#hot`, 8 Int32s (32 bytes, two records per cache line): what a
 * walk reads when it visits the node. A child's mask is its rest mask (see `#mask`), 0 when the
 * child is absent, so an absent child needs no test of its own.
 */
const STAR = 0;
const STAR_MASK = 1;
const ANY = 2;
const ANY_MASK = 3;
/** Bit `id & 31` set for the word id of each literal child: most probes that would miss are spared. */
const FILTER = 4;
/** Where the node's destination names start in `#names`; its queue names come first. */
const DEST = 5;
const QUEUES = 6;
const EXCHANGES = 7;
const NODE_SHIFT = 3;

/** Fields of a slot in the literal-edge table (4 Int32s); a NONE child marks an empty slot. */
const E_PARENT = 0;
const E_WORD = 1;
const E_CHILD = 2;
const E_MASK = 3;
const EDGE_SHIFT = 2;

/**
 * Keys of up to this many words take `#walkShort`: their word counts 0…31 are the bits of an
 * Int32. In a rest mask, bit 31 stands for "31 or more" (saturated), which only ever lets a
 * 31-word key visit a node that then matches nothing.
 */
const SHORT_WORDS = 31;
const SATURATED = 1 << 31;

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

/**
 * The words of a binding pattern, each run of `*`s and `#`s rewritten to its `*`s followed by
 * one `#` if it had any: `#.#` → `#`, `#.*` and `#.*.#` → `*.#`, `*.#.*` → `*.*.#`. A run of s
 * stars and at least one `#` matches any s or more words, whatever their order, so the pattern
 * matches the same keys. Equivalent patterns then share a node, which a walk visits once: with
 * the benchmark's random patterns, 18 visits per miss instead of 25. The binding itself keeps the
 * key it was made with, for `bindings()` and `unbind()`.
 */
function patternWords(pattern: string): string[] {
  const words = splitWords(pattern);
  const canonical: string[] = [];
  for (let i = 0; i < words.length;) {
    if (words[i] !== "*" && words[i] !== "#") {
      canonical.push(words[i++]);
      continue;
    }
    let stars = 0, any = false;
    for (; i < words.length && (words[i] === "*" || words[i] === "#"); i++) {
      if (words[i] === "*") stars++;
      else any = true;
    }
    for (let k = 0; k < stars; k++) canonical.push("*");
    if (any) canonical.push("#");
  }
  return canonical;
}

/** Slot of the (parent, word) edge in a table of `mask + 1` slots: a multiplicative mix of both. */
function edgeSlot(parent: number, word: number, mask: number): number {
  const h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(word, 0x85ebca6b);
  return (h ^ (h >>> 15)) & mask;
}

/** A child's rest mask as seen from its parent across a `*` or literal edge: one word more. */
function oneWordMore(mask: number): number {
  return (mask << 1) | (mask & SATURATED);
}

/** A `#` child's rest mask as seen from its parent: the `#` takes any number of words more. */
function anyWordsMore(mask: number): number {
  return -(mask & -mask) | 0; // every bit from the lowest set one up
}

/** Whether a rest mask admits `rest` words left. */
function admits(mask: number, rest: number): boolean {
  return rest >= SHORT_WORDS ? mask < 0 : ((mask >>> rest) & 1) !== 0;
}

/** Smallest power of two ≥ n (n ≥ 1): destination blocks grow by doubling. */
function blockSize(n: number): number {
  return n <= 1 ? 1 : 1 << (32 - Math.clz32(n - 1));
}

/** Router for one topic exchange. */
export class TopicRouter implements BindableRouter {
  // ---- The trie: node n is record n of `#hot` and index n of the other arrays. ----
  #hot = new Int32Array(INITIAL_NODES << NODE_SHIFT);
  /**
   * The node's rest mask: bit r set when some binding in its subtree matches with exactly r more
   * key words from here (bit 31: 31 or more). It is the binding at the node (bit 0), each `*` or
   * literal child's mask one word up, and the `#` child's mask filled upwards from its lowest
   * bit. Kept exact by bind and unbind (`#updateMasks`), along with the copies in the parent.
   */
  #mask = new Int32Array(INITIAL_NODES);
  #parent = new Int32Array(INITIAL_NODES);
  /** How a node hangs from its parent: a word id, STAR_EDGE or HASH_EDGE. */
  #edge = new Int32Array(INITIAL_NODES);
  /** Number of literal children. */
  #literals = new Int32Array(INITIAL_NODES);
  /** Literal children of a node as a doubly linked list, for `#updateMasks` to go through. */
  #firstLiteral = new Int32Array(INITIAL_NODES);
  #nextLiteral = new Int32Array(INITIAL_NODES);
  #prevLiteral = new Int32Array(INITIAL_NODES);
  /** Slots of the node's block in `#names` (a power of two, or 0 for none). */
  #blockSize = new Int32Array(INITIAL_NODES);
  /** `#walkLong`'s marks on `#` nodes: the epoch, and the lowest word index walked from in it. */
  #seenEpoch = new Int32Array(INITIAL_NODES);
  #seenFrom = new Int32Array(INITIAL_NODES);
  /** Bindings whose pattern ends at the node; undefined when there are none. */
  readonly #bindingsOf: (Binding[] | undefined)[] = [];
  /** Nodes in use or free: node indexes are below this. */
  #nodes = 1;
  readonly #freeNodes: number[] = [];

  // ---- Literal edges: open addressing, linear probing, at most half full. ----
  #edges = new Int32Array(INITIAL_NODES << EDGE_SHIFT);
  #edgeCount = 0;

  // ---- Words: every literal word of the bound patterns; open addressing on the hash. ----
  /** Word id + 1 per slot, 0 for empty; at most half full. */
  #wordSlots = new Int32Array(16);
  #wordHash = new Int32Array(16);
  /** Trie edges labelled with the word; at zero the word leaves the table and frees its id. */
  #wordUses = new Int32Array(16);
  readonly #wordText: (string | undefined)[] = [];
  readonly #freeWords: number[] = [];
  #wordCount = 0;

  // ---- Destinations: each node's names in one block; abandoned blocks are garbage. ----
  #names: string[] = [];
  #garbage = 0;

  /** Routing key → offset in `#results` of its match: a count, then (block, queues, exchanges). */
  readonly #cache = new Map<string, number>();
  /** Offset 0 holds the shared empty result (count 0); misses append from `#resultsEnd`. */
  #results = new Int32Array(1024);
  #resultsEnd = 1;
  #size = 0;

  // ---- Match state for one miss. ----
  #length = 0;
  #epoch = 0;
  /** Word ids of the routing key being matched (-1: no pattern has that word); grown on demand. */
  #ids = new Int32Array(16);
  /** Pending (node, rest set) pairs of `#walkShort`. */
  #stack = new Int32Array(256);

  route(input: RoutingInput, out: RouteSink): void {
    const key = input.routingKey;
    let at = this.#cache.get(key);
    if (at === undefined) at = this.#miss(key);
    const results = this.#results, names = this.#names;
    const end = at + 1 + 3 * results[at];
    for (let p = at + 1; p < end; p += 3) {
      // (Loops of their own, indexed from 0: V8 compiles these tighter, hits ran 20% faster.)
      const start = results[p], queues = results[p + 1], exchanges = results[p + 2];
      for (let j = 0; j < queues; j++) out.queue(names[start + j]);
      if (exchanges !== 0) {
        for (let j = queues; j < queues + exchanges; j++) out.exchange(names[start + j]);
      }
    }
  }

  bind(binding: Binding): boolean {
    let node = ROOT;
    for (const text of patternWords(binding.routingKey)) node = this.#childFor(node, text);
    const list = this.#bindingsOf[node];
    if (list === undefined) this.#bindingsOf[node] = [binding];
    else {
      for (const b of list) if (sameBinding(b, binding)) return false;
      list.push(binding);
    }
    this.#setDestinations(node);
    this.#updateMasks(node);
    this.#size++;
    this.#clearCache();
    return true;
  }

  unbind(binding: Binding): boolean {
    let node = ROOT;
    for (const text of patternWords(binding.routingKey)) {
      const b = node << NODE_SHIFT;
      if (text === "*") node = this.#hot[b + STAR];
      else if (text === "#") node = this.#hot[b + ANY];
      else {
        const word = this.#wordId(text, false);
        node = word < 0 ? NONE : this.#literalChild(node, word);
      }
      if (node === NONE) return false;
    }
    const list = this.#bindingsOf[node];
    const i = list === undefined ? -1 : list.findIndex((b) => sameBinding(b, binding));
    if (i < 0) return false;
    list!.splice(i, 1);
    if (list!.length === 0) this.#bindingsOf[node] = undefined;
    this.#setDestinations(node);
    // Prune the nodes left with nothing, leaf upwards, so the trie never outgrows its bindings.
    while (node !== ROOT && this.#isEmpty(node)) {
      const parent = this.#parent[node];
      this.#removeNode(node);
      node = parent;
    }
    this.#updateMasks(node);
    this.#size--;
    this.#clearCache();
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
    return { nodes: this.#nodes - this.#freeNodes.length, edges: this.#edgeCount, words: this.#wordCount };
  }

  /**
   * @internal Recomputes every live node's rest mask, literal filter and destinations from the
   * trie itself (its children found through the edge table, not the sibling lists) and returns a
   * description of the first that differs from what is stored, or undefined when all agree (for
   * tests).
   */
  checkIndexes(): string | undefined {
    const hot = this.#hot, edges = this.#edges;
    const literalsOf = new Map<number, number[]>();
    for (let e = 0; e < edges.length; e += 1 << EDGE_SHIFT) {
      const child = edges[e + E_CHILD];
      if (child === NONE) continue;
      const list = literalsOf.get(edges[e + E_PARENT]) ?? [];
      list.push(child);
      literalsOf.set(edges[e + E_PARENT], list);
      if (edges[e + E_MASK] !== this.#mask[child]) return `edge to node ${child}: stale mask copy`;
    }
    let problem: string | undefined;
    const check = (node: number): number => {
      const b = node << NODE_SHIFT;
      let mask = this.#bindingsOf[node] === undefined ? 0 : 1;
      let bits = 0, linked = 0;
      const literals = literalsOf.get(node) ?? [];
      for (let c = this.#firstLiteral[node]; c !== NONE; c = this.#nextLiteral[c]) linked++;
      for (const c of literals) {
        bits |= 1 << (this.#edge[c] & 31);
        mask |= oneWordMore(check(c));
      }
      const star = hot[b + STAR], any = hot[b + ANY];
      if (star !== NONE) mask |= oneWordMore(check(star));
      if (any !== NONE) mask |= anyWordsMore(check(any));
      const names: string[] = [];
      for (const binding of this.#bindingsOf[node] ?? []) {
        if (binding.destination.kind === "queue") names.push(binding.destination.name);
      }
      const queues = names.length;
      for (const binding of this.#bindingsOf[node] ?? []) {
        if (binding.destination.kind === "exchange") names.push(binding.destination.name);
      }
      const stored = this.#names.slice(hot[b + DEST], hot[b + DEST] + hot[b + QUEUES] + hot[b + EXCHANGES]);
      if (problem !== undefined) return mask;
      if (mask !== this.#mask[node]) problem = `node ${node}: mask ${this.#mask[node]}, expected ${mask}`;
      else if (hot[b + STAR_MASK] !== (star === NONE ? 0 : this.#mask[star])) {
        problem = `node ${node}: stale * mask copy`;
      } else if (hot[b + ANY_MASK] !== (any === NONE ? 0 : this.#mask[any])) {
        problem = `node ${node}: stale # mask copy`;
      } else if (bits !== hot[b + FILTER]) {
        problem = `node ${node}: literal filter ${hot[b + FILTER]}, expected ${bits}`;
      } else if (linked !== literals.length || linked !== this.#literals[node]) {
        problem = `node ${node}: ${linked} linked literal children, ${literals.length} in the edge table`;
      } else if (hot[b + QUEUES] !== queues || stored.join("\0") !== names.join("\0")) {
        problem = `node ${node}: destinations [${stored}], expected [${names}]`;
      }
      return mask;
    };
    check(ROOT);
    return problem;
  }

  // ---- Matching ----------------------------------------------------------------------------

  /** Matches `key` against the trie and caches the result: appends it to `#results`. */
  #miss(key: string): number {
    if (this.#cache.size >= CACHE_LIMIT || this.#resultsEnd > RESULTS_LIMIT) this.#clearCache();
    this.#scan(key);
    const at = this.#resultsEnd;
    let out = at + 1;
    if (this.#length <= SHORT_WORDS) out = this.#walkShort(out);
    else {
      if (++this.#epoch > EPOCH_LIMIT) {
        this.#seenEpoch.fill(0);
        this.#epoch = 1;
      }
      if (admits(this.#mask[ROOT], this.#length)) out = this.#walkLong(ROOT, 0, out);
    }
    if (out === at + 1) {
      this.#cache.set(key, 0); // the shared empty result
      return 0;
    }
    this.#results[at] = (out - at - 1) / 3;
    this.#resultsEnd = out;
    this.#cache.set(key, at);
    return at;
  }

  /** Splits `key` in place: each word is hashed and looked up in the word table, no substrings. */
  #scan(key: string): void {
    const len = key.length;
    if (len + 1 > this.#ids.length) this.#ids = new Int32Array(Math.max(len + 1, this.#ids.length * 2));
    if (len === 0) {
      this.#length = 0;
      return;
    }
    const ids = this.#ids, slots = this.#wordSlots, hashes = this.#wordHash, texts = this.#wordText;
    const mask = slots.length - 1;
    let n = 0, start = 0, h = FNV_OFFSET;
    for (let i = 0; i <= len; i++) {
      const c = i === len ? DOT : key.charCodeAt(i);
      if (c !== DOT) {
        h = Math.imul(h ^ c, FNV_PRIME);
        continue;
      }
      h &= HASH_MASK;
      const size = i - start;
      let id = -1;
      for (let s = h & mask;; s = (s + 1) & mask) {
        const slot = slots[s];
        if (slot === 0) break;
        if (hashes[slot - 1] !== h) continue;
        const text = texts[slot - 1]!;
        if (text.length !== size) continue;
        let j = 0;
        while (j < size && text.charCodeAt(j) === key.charCodeAt(start + j)) j++;
        if (j === size) {
          id = slot - 1;
          break;
        }
      }
      ids[n++] = id;
      start = i + 1;
      h = FNV_OFFSET;
    }
    this.#length = n;
  }

  /**
   * Collects the matches of a key of at most 31 words into `#results` from `out` on, and returns
   * the new end. Depth-first from the root with an explicit stack of (node, rests): `rests` has
   * bit r set when the key can reach the node with r words left (see the module comment).
   *
   * Each node is visited at most once, so each binding is collected at most once: the root is
   * pushed once, and a visit pushes each child at most once (a word repeated in the key reaches
   * the same literal child from two positions; those merge into one entry).
   */
  #walkShort(out: number): number {
    const hot = this.#hot, edges = this.#edges, ids = this.#ids, length = this.#length;
    const edgeMask = (edges.length >> EDGE_SHIFT) - 1;
    let stack = this.#stack, results = this.#results;
    let sp = 0;
    let node = ROOT;
    let rests = (1 << length) & this.#mask[ROOT];
    if (rests === 0) return out;
    for (;;) {
      // Room for this visit's pushes: the `*` and `#` children and a literal child per word left.
      if (sp + 2 * (length + 2) > stack.length) stack = this.#stack = grow(stack);
      const b = node << NODE_SHIFT;
      if ((rests & 1) !== 0 && (hot[b + QUEUES] | hot[b + EXCHANGES]) !== 0) {
        if (out + 3 > results.length) results = this.#results = grow(results);
        results[out] = hot[b + DEST];
        results[out + 1] = hot[b + QUEUES];
        results[out + 2] = hot[b + EXCHANGES];
        out += 3;
      }
      // The `#` child takes any number of the words left: every count up to the largest.
      let next = ~(-2 << (31 - Math.clz32(rests))) & hot[b + ANY_MASK];
      if (next !== 0) {
        stack[sp] = hot[b + ANY];
        stack[sp + 1] = next;
        sp += 2;
      }
      const after = rests >>> 1; // the counts left once a `*` or literal child took one word
      if (after !== 0) {
        next = after & hot[b + STAR_MASK];
        if (next !== 0) {
          stack[sp] = hot[b + STAR];
          stack[sp + 1] = next;
          sp += 2;
        }
        const filter = hot[b + FILTER];
        if (filter !== 0) {
          const first = sp;
          let left = after;
          do {
            const bit = left & -left;
            left ^= bit;
            // `bit` is r words left after this one, so this word is the key's (length - r - 1)th.
            const id = ids[length - 32 + Math.clz32(bit)];
            if (id < 0 || (filter & (1 << (id & 31))) === 0) continue;
            for (let s = edgeSlot(node, id, edgeMask);; s = (s + 1) & edgeMask) {
              const e = s << EDGE_SHIFT;
              const child = edges[e + E_CHILD];
              if (child === NONE) break;
              if (edges[e + E_PARENT] !== node || edges[e + E_WORD] !== id) continue;
              next = bit & edges[e + E_MASK];
              if (next !== 0) {
                let j = first;
                while (j < sp && stack[j] !== child) j += 2;
                if (j === sp) {
                  stack[sp] = child;
                  stack[sp + 1] = next;
                  sp += 2;
                } else stack[j + 1] |= next;
              }
              break;
            }
          } while (left !== 0);
        }
      }
      if (sp === 0) return out;
      sp -= 2;
      node = stack[sp];
      rests = stack[sp + 1];
    }
  }

  /**
   * The walk for keys of more than 31 words: collects what `node` matches given that words
   * `0..i-1` led to it, one call per (node, word index) pair. A `#` node reached again at a
   * higher index than before is skipped (`#walkAny`), so each pair is walked at most once per
   * match and no binding is collected twice; the work stays within nodes × words.
   */
  #walkLong(node: number, i: number, out: number): number {
    const hot = this.#hot, b = node << NODE_SHIFT;
    const rest = this.#length - i;
    if (rest === 0 && (hot[b + QUEUES] | hot[b + EXCHANGES]) !== 0) {
      if (out + 3 > this.#results.length) this.#results = grow(this.#results);
      this.#results[out] = hot[b + DEST];
      this.#results[out + 1] = hot[b + QUEUES];
      this.#results[out + 2] = hot[b + EXCHANGES];
      out += 3;
    }
    if (hot[b + ANY] !== NONE) out = this.#walkAny(hot[b + ANY], i, out);
    if (rest === 0) return out;
    if (admits(hot[b + STAR_MASK], rest - 1)) out = this.#walkLong(hot[b + STAR], i + 1, out);
    const id = this.#ids[i];
    if (id >= 0 && (hot[b + FILTER] & (1 << (id & 31))) !== 0) {
      const child = this.#literalChild(node, id);
      if (child !== NONE && admits(this.#mask[child], rest - 1)) out = this.#walkLong(child, i + 1, out);
    }
    return out;
  }

  /** `#walkLong` for the `#` node `node` reached at word `i`: it may take words `i..k-1`, any k. */
  #walkAny(node: number, i: number, out: number): number {
    let last = this.#length;
    if (this.#seenEpoch[node] === this.#epoch) {
      // Walked before from a lower or equal index, which covered every k from there on.
      if (i >= this.#seenFrom[node]) return out;
      last = this.#seenFrom[node] - 1;
    }
    this.#seenEpoch[node] = this.#epoch;
    this.#seenFrom[node] = i;
    const mask = this.#mask[node];
    for (let k = i; k <= last; k++) if (admits(mask, this.#length - k)) out = this.#walkLong(node, k, out);
    return out;
  }

  /** The literal child of `parent` for word id `word`, or NONE. */
  #literalChild(parent: number, word: number): number {
    const edges = this.#edges, mask = (edges.length >> EDGE_SHIFT) - 1;
    for (let s = edgeSlot(parent, word, mask);; s = (s + 1) & mask) {
      const e = s << EDGE_SHIFT;
      const child = edges[e + E_CHILD];
      if (child === NONE || (edges[e + E_PARENT] === parent && edges[e + E_WORD] === word)) return child;
    }
  }

  #clearCache(): void {
    this.#cache.clear();
    this.#resultsEnd = 1;
  }

  // ---- Building and pruning ---------------------------------------------------------------

  /** The child of `node` for one word of a binding pattern, made if missing. */
  #childFor(node: number, text: string): number {
    // (A new node is made before the parent's record is written: making it may grow the arrays.)
    const b = node << NODE_SHIFT;
    if (text === "*" || text === "#") {
      const field = text === "*" ? STAR : ANY;
      let child = this.#hot[b + field];
      if (child === NONE) {
        child = this.#newNode(node, text === "*" ? STAR_EDGE : HASH_EDGE);
        this.#hot[b + field] = child;
      }
      return child;
    }
    const word = this.#wordId(text, true);
    let child = this.#literalChild(node, word);
    if (child === NONE) {
      child = this.#newNode(node, word);
      this.#wordUses[word]++;
      this.#literals[node]++;
      this.#addEdge(node, word, child);
      this.#linkLiteral(node, child);
    }
    return child;
  }

  /** The id of a literal word, or -1; with `create`, adds it (with no uses yet) if missing. */
  #wordId(text: string, create: boolean): number {
    const hash = hashWord(text, 0, text.length);
    const mask = this.#wordSlots.length - 1;
    for (let s = hash & mask;; s = (s + 1) & mask) {
      const slot = this.#wordSlots[s];
      if (slot === 0) break;
      if (this.#wordHash[slot - 1] === hash && this.#wordText[slot - 1] === text) return slot - 1;
    }
    if (!create) return -1;
    if ((this.#wordCount + 1) * 2 > this.#wordSlots.length) this.#rehashWords(this.#wordSlots.length * 2);
    const id = this.#freeWords.pop() ?? this.#wordText.length;
    if (id >= this.#wordHash.length) {
      this.#wordHash = grow(this.#wordHash);
      this.#wordUses = grow(this.#wordUses);
    }
    this.#wordHash[id] = hash;
    this.#wordUses[id] = 0;
    this.#wordText[id] = text;
    this.#wordCount++;
    this.#putWord(id);
    return id;
  }

  #putWord(id: number): void {
    const mask = this.#wordSlots.length - 1;
    let s = this.#wordHash[id] & mask;
    while (this.#wordSlots[s] !== 0) s = (s + 1) & mask;
    this.#wordSlots[s] = id + 1;
  }

  #rehashWords(capacity: number): void {
    const old = this.#wordSlots;
    this.#wordSlots = new Int32Array(capacity);
    for (let s = 0; s < old.length; s++) if (old[s] !== 0) this.#putWord(old[s] - 1);
  }

  /** Drops one use of a word; at none left, takes it out of the table (no tombstones). */
  #releaseWord(id: number): void {
    if (--this.#wordUses[id] > 0) return;
    const slots = this.#wordSlots, mask = slots.length - 1;
    let hole = this.#wordHash[id] & mask;
    while (slots[hole] !== id + 1) hole = (hole + 1) & mask;
    for (let s = (hole + 1) & mask; slots[s] !== 0; s = (s + 1) & mask) {
      const home = this.#wordHash[slots[s] - 1] & mask;
      // The entry at s may move into the hole unless its home lies cyclically in (hole, s].
      if (hole <= s ? hole < home && home <= s : hole < home || home <= s) continue;
      slots[hole] = slots[s];
      hole = s;
    }
    slots[hole] = 0;
    this.#wordText[id] = undefined;
    this.#freeWords.push(id);
    this.#wordCount--;
  }

  /**
   * Rewrites a node's block of `#names` from its bindings: queue names, then exchange names. A
   * block that is too small moves to the end of `#names` at the next power of two; the old one
   * becomes garbage, swept once it outweighs the live names.
   */
  #setDestinations(node: number): void {
    const list = this.#bindingsOf[node] ?? [];
    const b = node << NODE_SHIFT;
    let start = this.#hot[b + DEST], size = this.#blockSize[node];
    if (list.length > size || list.length === 0) {
      this.#freeBlock(start, size);
      size = list.length === 0 ? 0 : blockSize(list.length);
      start = this.#names.length;
      for (let k = 0; k < size; k++) this.#names.push("");
    }
    const names = this.#names;
    let d = start;
    for (const binding of list) {
      if (binding.destination.kind === "queue") names[d++] = binding.destination.name;
    }
    const queues = d - start;
    for (const binding of list) {
      if (binding.destination.kind === "exchange") names[d++] = binding.destination.name;
    }
    names.fill("", d, start + size); // so a removed binding's name is not kept alive
    this.#hot[b + DEST] = size === 0 ? 0 : start;
    this.#hot[b + QUEUES] = queues;
    this.#hot[b + EXCHANGES] = list.length - queues;
    this.#blockSize[node] = size;
    if (this.#garbage > 1024 && this.#garbage * 2 > this.#names.length) this.#sweepNames();
  }

  #freeBlock(start: number, size: number): void {
    if (size === 0) return;
    this.#names.fill("", start, start + size);
    this.#garbage += size;
  }

  /** Copies every live block into a fresh `#names`, in node order. */
  #sweepNames(): void {
    const names: string[] = [];
    const hot = this.#hot;
    for (let n = 0; n < this.#nodes; n++) {
      const size = this.#blockSize[n];
      if (size === 0) continue;
      const b = n << NODE_SHIFT, start = hot[b + DEST];
      hot[b + DEST] = names.length;
      for (let k = 0; k < size; k++) names.push(this.#names[start + k]);
    }
    this.#names = names;
    this.#garbage = 0;
  }

  #newNode(parent: number, edge: number): number {
    let node = this.#freeNodes.pop();
    if (node === undefined) {
      node = this.#nodes++;
      if (node === this.#mask.length) this.#growNodes();
    }
    this.#hot.fill(0, node << NODE_SHIFT, (node + 1) << NODE_SHIFT);
    this.#mask[node] = 0;
    this.#parent[node] = parent;
    this.#edge[node] = edge;
    this.#literals[node] = 0;
    this.#firstLiteral[node] = NONE;
    this.#blockSize[node] = 0;
    this.#seenEpoch[node] = 0;
    return node;
  }

  #isEmpty(node: number): boolean {
    const b = node << NODE_SHIFT;
    return this.#bindingsOf[node] === undefined && this.#hot[b + STAR] === NONE &&
      this.#hot[b + ANY] === NONE && this.#literals[node] === 0;
  }

  /** Unhooks an empty node from its parent and frees it. */
  #removeNode(node: number): void {
    const parent = this.#parent[node], edge = this.#edge[node], p = parent << NODE_SHIFT;
    if (edge === STAR_EDGE) this.#hot[p + STAR] = this.#hot[p + STAR_MASK] = NONE;
    else if (edge === HASH_EDGE) this.#hot[p + ANY] = this.#hot[p + ANY_MASK] = NONE;
    else {
      this.#deleteEdge(parent, edge);
      this.#unlinkLiteral(parent, node);
      this.#literals[parent]--;
      this.#releaseWord(edge);
    }
    this.#freeBlock(this.#hot[(node << NODE_SHIFT) + DEST], this.#blockSize[node]);
    this.#blockSize[node] = 0;
    this.#freeNodes.push(node);
  }

  #growNodes(): void {
    this.#hot = grow(this.#hot);
    this.#mask = grow(this.#mask);
    this.#parent = grow(this.#parent);
    this.#edge = grow(this.#edge);
    this.#literals = grow(this.#literals);
    this.#firstLiteral = grow(this.#firstLiteral);
    this.#nextLiteral = grow(this.#nextLiteral);
    this.#prevLiteral = grow(this.#prevLiteral);
    this.#blockSize = grow(this.#blockSize);
    this.#seenEpoch = grow(this.#seenEpoch);
    this.#seenFrom = grow(this.#seenFrom);
  }

  /**
   * Recomputes the rest mask of `node` from its bindings and children, stores it and its copy in
   * the parent, then does the same for its ancestors, stopping at the first whose mask comes out
   * unchanged (those above it cannot change either).
   */
  #updateMasks(node: number): void {
    const hot = this.#hot;
    for (;;) {
      const b = node << NODE_SHIFT;
      let mask = this.#bindingsOf[node] === undefined ? 0 : 1;
      mask |= oneWordMore(hot[b + STAR_MASK]) | anyWordsMore(hot[b + ANY_MASK]);
      for (let c = this.#firstLiteral[node]; c !== NONE; c = this.#nextLiteral[c]) {
        mask |= oneWordMore(this.#mask[c]);
      }
      if (mask === this.#mask[node]) return;
      this.#mask[node] = mask;
      if (node === ROOT) return;
      const parent = this.#parent[node], edge = this.#edge[node], p = parent << NODE_SHIFT;
      if (edge === STAR_EDGE) hot[p + STAR_MASK] = mask;
      else if (edge === HASH_EDGE) hot[p + ANY_MASK] = mask;
      else {
        const edges = this.#edges, emask = (edges.length >> EDGE_SHIFT) - 1;
        let s = edgeSlot(parent, edge, emask);
        while (edges[(s << EDGE_SHIFT) + E_CHILD] !== node) s = (s + 1) & emask;
        edges[(s << EDGE_SHIFT) + E_MASK] = mask;
      }
      node = parent;
    }
  }

  #linkLiteral(parent: number, child: number): void {
    this.#hot[(parent << NODE_SHIFT) + FILTER] |= 1 << (this.#edge[child] & 31);
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
    this.#hot[(parent << NODE_SHIFT) + FILTER] = bits;
  }

  #addEdge(parent: number, word: number, child: number): void {
    if ((this.#edgeCount + 1) * 2 > this.#edges.length >> EDGE_SHIFT) {
      this.#rehashEdges((this.#edges.length >> EDGE_SHIFT) * 2);
    }
    this.#putEdge(parent, word, child, this.#mask[child]);
    this.#edgeCount++;
  }

  #putEdge(parent: number, word: number, child: number, mask: number): void {
    const edges = this.#edges, slots = (edges.length >> EDGE_SHIFT) - 1;
    let s = edgeSlot(parent, word, slots);
    while (edges[(s << EDGE_SHIFT) + E_CHILD] !== NONE) s = (s + 1) & slots;
    const e = s << EDGE_SHIFT;
    edges[e + E_PARENT] = parent;
    edges[e + E_WORD] = word;
    edges[e + E_CHILD] = child;
    edges[e + E_MASK] = mask;
  }

  #rehashEdges(capacity: number): void {
    const old = this.#edges;
    this.#edges = new Int32Array(capacity << EDGE_SHIFT);
    for (let e = 0; e < old.length; e += 1 << EDGE_SHIFT) {
      if (old[e + E_CHILD] !== NONE) {
        this.#putEdge(old[e + E_PARENT], old[e + E_WORD], old[e + E_CHILD], old[e + E_MASK]);
      }
    }
  }

  /** Removes an edge, shifting later entries of its probe run back (no tombstones). */
  #deleteEdge(parent: number, word: number): void {
    const edges = this.#edges, mask = (edges.length >> EDGE_SHIFT) - 1;
    let hole = edgeSlot(parent, word, mask);
    while (
      edges[(hole << EDGE_SHIFT) + E_PARENT] !== parent || edges[(hole << EDGE_SHIFT) + E_WORD] !== word
    ) {
      hole = (hole + 1) & mask;
    }
    for (let s = (hole + 1) & mask; edges[(s << EDGE_SHIFT) + E_CHILD] !== NONE; s = (s + 1) & mask) {
      const e = s << EDGE_SHIFT;
      const home = edgeSlot(edges[e + E_PARENT], edges[e + E_WORD], mask);
      // The entry at s may move into the hole unless its home lies cyclically in (hole, s].
      if (hole <= s ? hole < home && home <= s : hole < home || home <= s) continue;
      edges.copyWithin(hole << EDGE_SHIFT, e, e + (1 << EDGE_SHIFT));
      hole = s;
    }
    edges.fill(0, hole << EDGE_SHIFT, (hole + 1) << EDGE_SHIFT);
    this.#edgeCount--;
  }
}

/** A copy of `a` twice as long. */
function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** The `topic` exchange type plugin. */
export const topicPlugin: ExchangeTypePlugin = {
  name: "topic",
  stage: "exchange",
  create: () => new TopicRouter(),
};
