import assert from "node:assert/strict";
import { AmqpError } from "../errors.ts";
import { PermissionStore, ResourceAccess } from "./permissions.ts";

const ALL = { configure: ".*", write: ".*", read: ".*" };

Deno.test("PermissionStore.allows() matches patterns anywhere in the name unless anchored", () => {
  const p = new PermissionStore();
  p.set("u", "/", { configure: "^app\\.", write: "log", read: "^(a|b)$" });
  assert.ok(p.allows("u", "/", "configure", "queue", "app.jobs"));
  assert.ok(!p.allows("u", "/", "configure", "queue", "myapp.jobs"));
  assert.ok(p.allows("u", "/", "write", "exchange", "syslogs"));
  assert.ok(p.allows("u", "/", "read", "queue", "a"));
  assert.ok(!p.allows("u", "/", "read", "queue", "ab"));
  // No entry for that user or vhost: nothing is allowed.
  assert.ok(!p.allows("u", "/other", "read", "queue", "a"));
  assert.ok(!p.allows("v", "/", "read", "queue", "a"));
});

Deno.test("PermissionStore: the empty pattern matches nothing; the default exchange is amq.default", () => {
  const p = new PermissionStore();
  p.set("u", "/", { configure: "", write: "", read: "" });
  assert.ok(!p.allows("u", "/", "configure", "queue", "q"));
  assert.ok(!p.allows("u", "/", "write", "exchange", ""));
  p.set("u", "/", { configure: "", write: "^amq\\.default$", read: "" });
  assert.ok(p.allows("u", "/", "write", "exchange", ""));
  assert.ok(!p.allows("u", "/", "write", "queue", ""));
});

Deno.test("PermissionStore.set() refuses an invalid regular expression", () => {
  const p = new PermissionStore();
  assert.throws(() => p.set("u", "/", { configure: "(", write: "", read: "" }), SyntaxError);
  assert.equal(p.get("u", "/"), undefined);
});

Deno.test("PermissionStore: list, clear, clearUser, clearVHost, version and onChange", () => {
  const p = new PermissionStore();
  const changes: string[] = [];
  p.onChange((c) => changes.push(`${c.kind} ${c.user}@${c.vhost}`));
  p.set("b", "/", ALL);
  p.set("a", "/", ALL);
  p.set("a", "v2", { configure: "", write: "w", read: "r" });
  assert.deepEqual(p.list().map((x) => `${x.user}@${x.vhost}`), ["a@/", "b@/", "a@v2"]);
  assert.deepEqual(p.list({ user: "a" }).map((x) => x.vhost), ["/", "v2"]);
  assert.deepEqual(p.list({ vhost: "v2" }), [{
    user: "a",
    vhost: "v2",
    configure: "",
    write: "w",
    read: "r",
  }]);
  const v = p.version;
  assert.ok(p.clear("b", "/"));
  assert.equal(p.clear("b", "/"), false);
  assert.ok(p.version > v);
  p.clearVHost("v2");
  assert.deepEqual(p.list().map((x) => `${x.user}@${x.vhost}`), ["a@/"]);
  p.clearUser("a");
  assert.deepEqual(p.list(), []);
  assert.deepEqual(changes, ["set b@/", "set a@/", "set a@v2", "clear b@/", "clear a@v2", "clear a@/"]);
});

Deno.test("ResourceAccess.check() throws RabbitMQ's 403 and sees permission changes at once", () => {
  const p = new PermissionStore();
  p.set("u", "v", ALL);
  const a = new ResourceAccess(p, "u", "v");
  a.check("write", "exchange", "x");
  a.check("write", "exchange", "x"); // cached
  p.set("u", "v", { configure: ".*", write: "^y$", read: ".*" });
  const err = (() => {
    try {
      a.check("write", "exchange", "x");
    } catch (e) {
      return e;
    }
  })() as AmqpError;
  assert.ok(err instanceof AmqpError);
  assert.equal(err.code, 403);
  assert.equal(err.replyText, "ACCESS_REFUSED - access to exchange 'x' in vhost 'v' refused for user 'u'");
  a.check("write", "exchange", "y");
  p.clear("u", "v");
  assert.throws(() => a.check("read", "queue", "q"), /access to queue 'q' in vhost 'v' refused for user 'u'/);
  assert.throws(() => a.check("write", "exchange", ""), /access to exchange 'amq.default'/);
});
