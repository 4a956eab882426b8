import assert from "node:assert/strict";
import { ownerNamespace, PagedList } from "./store.ts";

Deno.test("PagedList: entries come back in order with location, length, flags and expiry across chunks and segments", () => {
  const list = new PagedList();
  const n = 20_000; // more than two chunks
  const expected: {
    location: number;
    length: number;
    redelivered: boolean;
    journaled: boolean;
    expiresAt: number;
  }[] = [];
  for (let i = 0; i < n; i++) {
    const segment = 1 + Math.floor(i / 3000); // segment runs that start mid-chunk
    const e = {
      location: segment * 2 ** 32 + 16 + i * 100,
      length: 50 + (i % 7),
      redelivered: i % 3 === 0,
      journaled: i % 2 === 0,
      expiresAt: i % 1000 === 5 ? 1_000_000 + i : Infinity,
    };
    expected.push(e);
    list.push(e.location, e.length, 30, e, e.expiresAt);
  }
  assert.equal(list.length, n);
  assert.equal(list.bodyBytes, n * 30);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    assert.equal(list.headLocation, e.location, `location of ${i}`);
    assert.equal(list.headLength, e.length);
    assert.equal(list.headRedelivered, e.redelivered);
    assert.equal(list.headJournaled, e.journaled);
    assert.equal(list.headExpiresAt, e.expiresAt);
    list.shift(30);
  }
  assert.equal(list.length, 0);
  assert.equal(list.bodyBytes, 0);
  // Empty, then used again: no stale runs or expiry times.
  list.push(7 * 2 ** 32 + 16, 40, 10, { redelivered: false, journaled: true }, Infinity);
  assert.equal(list.headLocation, 7 * 2 ** 32 + 16);
  assert.equal(list.headExpiresAt, Infinity);
});

Deno.test("PagedList: a record that could not be read is taken off bodyBytes by estimate, never below zero", () => {
  const list = new PagedList();
  list.push(2 ** 32 + 16, 1000, 980, { redelivered: false, journaled: false }, Infinity);
  list.push(2 ** 32 + 1016, 30, 10, { redelivered: false, journaled: false }, Infinity);
  list.shift(); // unread: estimated from its record length
  assert.equal(list.bodyBytes, 10);
  list.shift(-1);
  assert.equal(list.bodyBytes, 0);
});

Deno.test("ownerNamespace: stable, file-name safe, distinct per vhost, owner and namespace", () => {
  const a = ownerNamespace("/", "ex", "seen");
  assert.equal(a, ownerNamespace("/", "ex", "seen"));
  assert.match(a, /^owner-[0-9a-f]{16}$/);
  const all = new Set([
    a,
    ownerNamespace("/", "ex", "other"),
    ownerNamespace("v", "ex", "seen"),
    ownerNamespace("/", "ex2", "seen"),
  ]);
  assert.equal(all.size, 4);
});

Deno.test("PagedList: entries expired in place (kill) leave the live count and bytes, and are skipped at the head", () => {
  const list = new PagedList();
  const flags = { redelivered: false, journaled: true };
  for (let i = 0; i < 10_000; i++) {
    list.push(3 * 2 ** 32 + 16 + i * 50, 50, 20, flags, i % 2 === 0 ? 1000 + i : Infinity);
  }
  assert.equal(list.headIndex, 0);
  // Kill two entries far from the head (the second in another chunk), and one twice.
  assert.deepEqual(list.entry(4), { location: 3 * 2 ** 32 + 16 + 200, length: 50, journaled: true });
  list.kill(4, 20);
  list.kill(9000, 20);
  list.kill(9000, 20);
  assert.equal(list.entry(4), null);
  assert.equal(list.length, 10_000);
  assert.equal(list.live, 9_998);
  assert.equal(list.bodyBytes, 9_998 * 20);
  const seen: number[] = [];
  while (list.length > 0) {
    if (!list.headDead) seen.push((list.headLocation - 3 * 2 ** 32 - 16) / 50);
    list.shift(list.headDead ? -1 : 20);
  }
  assert.equal(seen.length, 9_998);
  assert.ok(!seen.includes(4) && !seen.includes(9000));
  assert.equal(list.live, 0);
  assert.equal(list.bodyBytes, 0);
  // History indexes keep counting after the list empties; old ones are gone.
  assert.equal(list.headIndex, 10_000);
  assert.equal(list.entry(5), null);
  list.push(16, 50, 20, flags, 5);
  assert.deepEqual(list.entry(10_000), { location: 16, length: 50, journaled: true });
});
