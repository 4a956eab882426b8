// `deno task ctl` against a running broker's management API: the verbs operators use.

import assert from "node:assert/strict";
import { runCtl } from "../../server/ctl.ts";
import { repoRoot } from "./_broker.ts";
import { httpTest, until } from "./_http.ts";

httpTest("ctl: list, users, permissions, export/import, close connection", async (b) => {
  const ctl = (...args: string[]) =>
    runCtl(["--url", b.base, "--user", "admin", "--password", "admin-pw", ...args]);
  await b.req("PUT", "/api/queues/%2F/ctl-q", { body: { durable: false } });
  const queues = await ctl("list", "queues");
  assert.equal(
    queues,
    "vhost\tname\tdurable\tauto_delete\tmessages\tmessages_ready\tmessages_unacknowledged\tconsumers\n" +
      "/\tctl-q\tfalse\tfalse\t0\t0\t0\t0\n",
  );
  assert.match(await ctl("list", "exchanges", "--vhost", "/"), /^vhost\tname\ttype.*\n\/\t\tdirect\ttrue/);

  assert.equal(await ctl("add_user", "ops", "ops-pw", "--tags", "monitoring"), "user 'ops' added\n");
  assert.match(await ctl("list", "users"), /\nops\tmonitoring\n/);
  assert.equal(
    await ctl("set_permissions", "ops", ".*", "", ".*"),
    "permissions of 'ops' in vhost '/' set\n",
  );
  assert.match(await ctl("list", "permissions"), /\nops\t\/\t\.\*\t\t\.\*\n/);
  assert.equal(await ctl("delete_user", "ops"), "user 'ops' deleted\n");
  await assert.rejects(ctl("delete_user", "ops"), /DELETE \/api\/users\/ops: 404 Not Found/);

  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    assert.equal(await ctl("export", file), `definitions exported to ${file}\n`);
    const defs = JSON.parse(await Deno.readTextFile(file));
    assert.deepEqual(defs.queues.map((q: { name: string }) => q.name), ["ctl-q"]);
    await b.req("DELETE", "/api/queues/%2F/ctl-q");
    assert.equal(await ctl("import", file), `definitions imported from ${file}\n`);
    assert.equal((await b.req("GET", "/api/queues/%2F/ctl-q")).status, 200);
  } finally {
    await Deno.remove(file);
  }

  const conn = await b.amqp();
  const closed = new Promise<unknown>((r) => conn.on("close", r));
  await until(async () => ((await b.req("GET", "/api/connections")).json as unknown[]).length === 1);
  const name = ((await b.req("GET", "/api/connections")).json as { name: string }[])[0].name;
  assert.equal(await ctl("close_connection", name, "maintenance"), `connection '${name}' closed\n`);
  const err = await closed as { message?: string };
  assert.match(String(err?.message ?? err), /320|maintenance/);

  // Policies: set (applied to ctl-q at once), listed, refused in RabbitMQ's words on one line, cleared.
  assert.equal(
    await ctl(
      "set_policy",
      "ttl",
      "^ctl-",
      '{"message-ttl":1000}',
      "--apply-to",
      "queues",
      "--priority",
      "2",
    ),
    "policy 'ttl' set in vhost '/'\n",
  );
  assert.equal(
    await ctl("list", "policies", "--vhost", "/"),
    'vhost\tname\tpattern\tapply-to\tdefinition\tpriority\n/\tttl\t^ctl-\tqueues\t{"message-ttl":1000}\t2\n',
  );
  assert.equal(((await b.req("GET", "/api/queues/%2F/ctl-q")).json as { policy: string }).policy, "ttl");
  await assert.rejects(
    ctl("set_policy", "bad", "^q", '{"message-ttl":"x"}'),
    /PUT \/api\/policies\/%2F\/bad: 400 Validation failed <<"x">> is not a valid message TTL$/,
  );
  assert.equal(await ctl("clear_policy", "ttl"), "policy 'ttl' cleared in vhost '/'\n");
  await assert.rejects(ctl("clear_policy", "ttl"), /DELETE \/api\/policies\/%2F\/ttl: 404 Not Found/);

  // As a process: `deno task ctl` prints and exits 0, or one line on stderr and exits 1.
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "server/ctl.ts",
        "--url",
        b.base,
        "--user",
        "admin",
        "--password",
        "admin-pw",
        ...args,
      ],
      cwd: repoRoot,
      stdout: "piped",
      stderr: "piped",
    }).output();
  const ok = await run(["list", "vhosts"]);
  assert.equal(ok.code, 0);
  assert.equal(new TextDecoder().decode(ok.stdout), "name\tmessages\n/\t0\n");
  const bad = await run(["list", "nothing"]);
  assert.equal(bad.code, 1);
  assert.equal(new TextDecoder().decode(bad.stderr), "warren ctl: list: unknown kind 'nothing'\n");
});
