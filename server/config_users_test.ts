import assert from "node:assert/strict";
import { parseSettings, type ServerSettings } from "./config.ts";

function settings(argv: string[], file?: unknown): ServerSettings {
  const s = parseSettings(argv, () => JSON.stringify(file));
  assert.notEqual(s, "help");
  return s as ServerSettings;
}

Deno.test("parseSettings() reads --user NAME:PASSWORD[:TAGS] (repeatable) after the config file's users", () => {
  const s = settings(
    [
      "--config",
      "c.json",
      "--user",
      "ops:s3cret:administrator,monitoring",
      "--user",
      "app:pw",
      "--user",
      "x:a:b:",
    ],
    { users: [{ name: "filed", password: "f", tags: ["management"] }] },
  );
  assert.deepEqual(s.users, [
    { name: "filed", password: "f", tags: ["management"] },
    { name: "ops", password: "s3cret", tags: ["administrator", "monitoring"] },
    { name: "app", password: "pw", tags: [] },
    { name: "x", password: "a:b", tags: [] },
  ]);
  assert.equal(s.guest, undefined);
});

Deno.test("parseSettings() refuses a malformed --user without echoing its password", () => {
  assert.throws(() => settings(["--user", "nocolon"]), /Invalid --user: expected NAME:PASSWORD/);
  assert.throws(() => settings(["--user", ":pw"]), /Invalid --user: expected NAME:PASSWORD/);
  assert.throws(() => settings(["--user", "bob::admin"]), (e: Error) => {
    assert.equal(e.message, `Invalid --user "bob": empty password`);
    return true;
  });
});

Deno.test("parseSettings(): --no-guest or guest: false in the config file drops the guest user", () => {
  assert.equal(settings(["--no-guest"]).guest, false);
  assert.equal(settings(["--config", "c.json"], { guest: false }).guest, false);
  assert.equal(settings(["--config", "c.json", "--no-guest"], { guest: true }).guest, false);
  assert.throws(() => settings(["--config", "c.json"], { guest: "no" }), /Invalid guest "no" in config/);
});
