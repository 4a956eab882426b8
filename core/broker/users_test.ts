import assert from "node:assert/strict";
import { checkPassword, HASHING_ALGORITHM, hashPassword, type UserChange, UserStore } from "./users.ts";

const utf8 = new TextEncoder();

/** Users created in RabbitMQ 3.10 and exported with `rabbitmqctl export_definitions`. */
const RABBITMQ_HASHES: [user: string, password: string, hash: string][] = [
  ["guest", "guest", "rxlDp+pK7i+b+Qx9VJim1If2OKOe7DSRBaBgFBw1VhSW+I4P"],
  ["vec1", "s3cret", "EYeTpnXeRtU5IGYOXoAYWmY1VnsOUvI2NkeDBsow19RNI71x"],
  ["vec2", "guest", "APUubH3NTpl+RTClcjLE9hF0PfIeZs6CXIk8rZyCla1sQEhN"],
  ["vec3", "pässwörd ✓", "bDjMVk1n1XRqvgggN11TV6Az2wmxPHW9LJwjrtVGClmAgSL7"],
  ["p", "pw", "PSIdpO2Zm8tDGUBgh5/vbTdLRZ9D12JDJv4mZuDNgnJpMGFD"],
];

Deno.test("checkPassword() verifies password hashes exported by RabbitMQ", () => {
  for (const [user, password, hash] of RABBITMQ_HASHES) {
    assert.ok(checkPassword(hash, password), user);
    assert.ok(!checkPassword(hash, password + "x"), user);
    assert.ok(!checkPassword(hash, ""), user);
  }
});

Deno.test("hashPassword() with RabbitMQ's salt reproduces RabbitMQ's hash", () => {
  for (const [, password, hash] of RABBITMQ_HASHES) {
    const salt = Uint8Array.from(atob(hash).slice(0, 4), (c) => c.charCodeAt(0));
    assert.equal(hashPassword(password, salt), hash);
  }
});

Deno.test("hashPassword() salts: the same password hashes differently each time", () => {
  const a = hashPassword("same");
  const b = hashPassword("same");
  assert.notEqual(a, b);
  assert.equal(atob(a).length, 36);
  assert.ok(checkPassword(a, "same") && checkPassword(b, "same"));
});

Deno.test("checkPassword() matches nothing for an empty or malformed hash", () => {
  assert.ok(!checkPassword("", ""));
  assert.ok(!checkPassword("", "x"));
  assert.ok(!checkPassword("not base64!", "x"));
  assert.ok(!checkPassword(btoa("short"), "x"));
});

Deno.test("UserStore.put() keeps only a salted hash, never the password", () => {
  const s = new UserStore();
  s.put("alice", "wonderland", { tags: ["management"] });
  const r = s.record("alice")!;
  assert.equal(r.hashing_algorithm, HASHING_ALGORITHM);
  assert.ok(checkPassword(r.password_hash, "wonderland"));
  assert.ok(!JSON.stringify(s.list()).includes("wonderland"));
  assert.deepEqual(r.tags, ["management"]);
  assert.deepEqual(s.credentials("alice"), {
    passwordHash: r.password_hash,
    hashingAlgorithm: HASHING_ALGORITHM,
  });
});

Deno.test("UserStore.authenticate() accepts the password as bytes or string, refuses others", () => {
  const s = new UserStore();
  s.put("alice", "wonderland");
  assert.equal(
    (s.authenticate("alice", utf8.encode("wonderland"), "10.0.0.1") as { name: string }).name,
    "alice",
  );
  assert.equal((s.authenticate("alice", "wonderland", "10.0.0.1") as { name: string }).name, "alice");
  assert.deepEqual(s.authenticate("alice", "nope", "10.0.0.1"), {
    refused: "invalid credentials for user 'alice'",
  });
  assert.deepEqual(s.authenticate("bob", "x", "10.0.0.1"), { refused: "invalid credentials for user 'bob'" });
});

Deno.test("UserStore.authenticate() keeps a loopback-only user on loopback", () => {
  const s = new UserStore();
  s.put("guest", "guest", { loopbackOnly: true });
  assert.equal((s.authenticate("guest", "guest", "127.0.0.1") as { name: string }).name, "guest");
  assert.equal((s.authenticate("guest", "guest", "::1") as { name: string }).name, "guest");
  assert.deepEqual(s.authenticate("guest", "guest", "10.1.2.3"), {
    refused: "user 'guest' can only connect via localhost",
  });
  // Replacing the user (a new password) keeps the mark.
  s.put("guest", "new");
  assert.equal(s.get("guest")!.loopbackOnly, true);
});

Deno.test("UserStore.putHashed() imports a RabbitMQ hash; an empty hash cannot log in", () => {
  const s = new UserStore();
  s.putHashed("vec1", "EYeTpnXeRtU5IGYOXoAYWmY1VnsOUvI2NkeDBsow19RNI71x", HASHING_ALGORITHM, {
    tags: ["monitoring"],
  });
  assert.equal((s.authenticate("vec1", "s3cret", "10.0.0.1") as { name: string }).name, "vec1");
  assert.equal(s.record("vec1")!.password_hash, "EYeTpnXeRtU5IGYOXoAYWmY1VnsOUvI2NkeDBsow19RNI71x");
  s.putHashed("nopass", "");
  assert.ok("refused" in s.authenticate("nopass", "", "127.0.0.1"));
  assert.equal(s.record("nopass")!.password_hash, "");
  assert.throws(() => s.putHashed("x", "abc", "rabbit_password_hashing_md5"), TypeError);
  assert.throws(() => s.putHashed("x", btoa("too short")), TypeError);
  assert.throws(() => s.putHashed("x", "%%%"), TypeError);
});

Deno.test("UserStore.update() changes password or tags and keeps the rest", () => {
  const s = new UserStore();
  s.put("a", "one", { tags: ["monitoring"] });
  assert.ok(s.update("a", { tags: ["administrator", "custom"] }));
  assert.ok(checkPassword(s.record("a")!.password_hash, "one"));
  assert.deepEqual(s.get("a")!.tags, ["administrator", "custom"]);
  assert.ok(s.update("a", { password: "two" }));
  assert.ok(checkPassword(s.record("a")!.password_hash, "two"));
  assert.deepEqual(s.get("a")!.tags, ["administrator", "custom"]);
  assert.ok(s.update("a", { passwordHash: "" }));
  assert.ok("refused" in s.authenticate("a", "two", "127.0.0.1"));
  assert.equal(s.update("missing", { tags: [] }), false);
});

Deno.test("UserStore.list() is sorted and onChange() reports puts and deletes", () => {
  const s = new UserStore();
  const seen: UserChange[] = [];
  const off = s.onChange((c) => seen.push(c));
  s.put("b", "x");
  s.put("a", "y");
  assert.deepEqual(s.list().map((u) => u.name), ["a", "b"]);
  assert.ok(s.delete("b"));
  assert.equal(s.delete("b"), false);
  off();
  s.put("c", "z");
  assert.deepEqual(seen, [{ kind: "put", name: "b" }, { kind: "put", name: "a" }, {
    kind: "delete",
    name: "b",
  }]);
  assert.ok(s.has("a") && !s.has("b"));
});
