import assert from "node:assert/strict";
import { parseSettings } from "./config.ts";

const noFile = (p: string): string => {
  throw new Error(`no such file ${p}`);
};

Deno.test("parseSettings() gives RabbitMQ's defaults with no flags", () => {
  const s = parseSettings([], noFile);
  assert.notEqual(s, "help");
  if (s === "help") return;
  assert.equal(s.port, 5672);
  assert.equal(s.host, "0.0.0.0");
  assert.equal(s.httpPort, 15672);
  assert.equal(s.dataDir, "./data");
  assert.equal(s.logLevel, "info");
  assert.equal(s.heartbeat, undefined); // the kernel's default (60 s) applies
});

Deno.test("parseSettings() reads every documented flag", () => {
  const s = parseSettings([
    "--port",
    "5673",
    "--host",
    "127.0.0.1",
    "--data-dir",
    "/tmp/w",
    "--http-port",
    "15673",
    "--log-level",
    "debug",
    "--heartbeat",
    "5",
    "--frame-max",
    "8192",
    "--channel-max",
    "10",
  ], noFile);
  assert.deepEqual(s, {
    port: 5673,
    host: "127.0.0.1",
    dataDir: "/tmp/w",
    httpPort: 15673,
    logLevel: "debug",
    heartbeat: 5,
    frameMax: 8192,
    channelMax: 10,
    pluginPaths: [],
  });
});

Deno.test("parseSettings() returns help for -h and --help", () => {
  assert.equal(parseSettings(["-h"], noFile), "help");
  assert.equal(parseSettings(["--help"], noFile), "help");
});

Deno.test("parseSettings() names the flag and value it refuses", () => {
  assert.throws(() => parseSettings(["--port", "70000"], noFile), {
    name: "RangeError",
    message: 'Invalid port "70000": expected an integer from 0 to 65535',
  });
  assert.throws(() => parseSettings(["--port", "abc"], noFile), { name: "RangeError" });
  assert.throws(() => parseSettings(["--frame-max", "100"], noFile), {
    message: 'Invalid frame max "100": expected an integer from 4096 to 1048576',
  });
  assert.throws(() => parseSettings(["--log-level", "loud"], noFile), {
    message: 'Invalid log level "loud": expected one of debug, info, warn, error, none',
  });
  assert.throws(() => parseSettings(["--bogus"], noFile), (e: Error) => {
    assert.equal(e.name, "TypeError");
    assert.match(e.message, /^Cannot parse command line: .*--bogus/);
    return true;
  });
});

Deno.test("parseSettings() merges the config file under the flags", () => {
  const file = JSON.stringify({
    port: 6000,
    heartbeat: 10,
    handshakeTimeout: 2000,
    users: [{ name: "a", password: "b" }],
  });
  const s = parseSettings(["--config", "w.json", "--port", "6001"], () => file);
  if (s === "help") throw new Error("unexpected help");
  assert.equal(s.port, 6001);
  assert.equal(s.heartbeat, 10);
  assert.equal(s.handshakeTimeout, 2000);
  assert.deepEqual(s.users, [{ name: "a", password: "b", tags: [] }]);
});

Deno.test("parseSettings() refuses a bad config file with its name in the message", () => {
  assert.throws(() => parseSettings(["--config", "w.json"], () => "{not json"), (e: Error) => {
    assert.equal(e.name, "SyntaxError");
    assert.match(e.message, /^Cannot parse config "w\.json": /);
    return true;
  });
  assert.throws(() => parseSettings(["--config", "w.json"], () => '{"prot": 1}'), {
    message: 'Cannot parse config "w.json": unknown key "prot"',
  });
  assert.throws(() => parseSettings(["--config", "missing.json"], noFile), {
    message: 'Cannot read config "missing.json": no such file missing.json',
  });
});
