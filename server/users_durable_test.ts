import assert from "node:assert/strict";
import { Broker } from "../core/mod.ts";
import { DEFAULT_PLUGINS } from "../plugins/mod.ts";
import { openDataDir } from "./store/mod.ts";

function broker(): Broker {
  const b = new Broker();
  for (const p of DEFAULT_PLUGINS) b.register(p);
  b.addVHost("/");
  return b;
}

function afterSync(b: Broker): Promise<void> {
  return new Promise((resolve) => b.store!.afterSync(resolve));
}

Deno.test("users (hashed), vhosts and permissions changed at run time survive a restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = broker();
    const storeA = openDataDir(a, dir, "none");
    await afterSync(a); // the store's first write is done: what follows must cause its own
    a.users.put("ops", "s3cret", { tags: ["administrator"] });
    a.users.put("gone", "x");
    a.addVHost("v1");
    a.permissions.set("ops", "v1", { configure: "^c-", write: ".*", read: "" });
    a.users.delete("gone");
    await afterSync(a);
    a.addVHost("v2"); // alone: its creation is stored too
    await afterSync(a);
    storeA.close();

    const b = broker();
    const storeB = openDataDir(b, dir, "none");
    await afterSync(b);
    try {
      assert.deepEqual(b.users.list().map((u) => u.name), ["ops"]);
      assert.ok(b.vhosts.has("v2"));
      assert.ok(!("refused" in b.users.authenticate("ops", "s3cret", "10.0.0.1")));
      assert.deepEqual(b.users.get("ops")!.tags, ["administrator"]);
      assert.deepEqual(b.permissions.get("ops", "v1"), {
        user: "ops",
        vhost: "v1",
        configure: "^c-",
        write: ".*",
        read: "",
      });
      // Deleting a vhost is stored too.
      b.deleteVHost("v1");
      await afterSync(b);
    } finally {
      storeB.close();
    }
    const c = broker();
    const storeC = openDataDir(c, dir, "none");
    storeC.close();
    assert.equal(c.vhosts.has("v1"), false);
    assert.equal(c.permissions.get("ops", "v1"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
