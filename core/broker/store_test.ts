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
