import assert from "node:assert/strict";
import { Broker, type FieldTable, int64, TypedField } from "../core/mod.ts";
import { DEFAULT_PLUGINS } from "../plugins/mod.ts";
import {
  type Definitions,
  DefinitionsError,
  exportDefinitions,
  fieldTableToJson,
  importDefinitions,
  jsonToFieldTable,
} from "./definitions.ts";

function freshBroker(): Broker {
  const b = new Broker();
  for (const p of DEFAULT_PLUGINS) b.register(p);
  b.users.put("guest", "guest", { tags: ["administrator"], loopbackOnly: true });
  b.addVHost("/");
  return b;
}

const OWNER = {};

function queue(
  b: Broker,
  vhost: string,
  name: string,
  o: Partial<{ durable: boolean; exclusive: boolean; autoDelete: boolean; args: FieldTable }> = {},
) {
  return b.vhosts.get(vhost)!.declareQueue({
    name,
    passive: false,
    durable: o.durable ?? true,
    exclusive: o.exclusive ?? false,
    autoDelete: o.autoDelete ?? false,
    args: o.args ?? {},
    owner: OWNER,
  });
}

function exchange(
  b: Broker,
  vhost: string,
  name: string,
  type: string,
  o: Partial<{ durable: boolean; internal: boolean; autoDelete: boolean; args: FieldTable }> = {},
) {
  return b.vhosts.get(vhost)!.declareExchange({
    name,
    type,
    passive: false,
    durable: o.durable ?? true,
    internal: o.internal ?? false,
    autoDelete: o.autoDelete ?? false,
    args: o.args ?? {},
  });
}

/** A broker with a bit of everything (the shapes a RabbitMQ 3.10 export was checked with). */
function populated(): Broker {
  const b = freshBroker();
  b.users.put("ops", "secret", { tags: ["monitoring", "management"] });
  b.addVHost("staging");
  exchange(b, "/", "p.durable", "topic", {
    args: { "alternate-exchange": "p.ae", n: 5, f: 1.5, b: true, arr: [1, "a"], tbl: { x: 1 } },
  });
  exchange(b, "/", "p.transient", "fanout", { durable: false });
  exchange(b, "/", "p.internal", "direct", { internal: true });
  exchange(b, "/", "p.ad", "direct", { autoDelete: true });
  exchange(b, "staging", "h", "headers");
  queue(b, "/", "p.q.durable", {
    args: {
      "x-message-ttl": 1000,
      "x-max-length": int64(10),
      "x-dead-letter-exchange": "dlx",
      arr: ["a", 2, true],
      tbl: { k: "v", n: 3 },
    },
  });
  queue(b, "/", "p.q.transient", { durable: false });
  queue(b, "/", "p.q.ad", { autoDelete: true });
  queue(b, "/", "p.q.excl", { exclusive: true });
  queue(b, "staging", "s.q");
  const v = b.vhosts.get("/")!;
  v.bindQueue("p.q.durable", OWNER, "p.durable", "a.#", { h: 1 });
  v.bindQueue("p.q.transient", OWNER, "p.durable", "b.*", {});
  v.bindQueue("p.q.excl", OWNER, "p.durable", "c", {});
  v.bindQueue("p.q.durable", OWNER, "amq.topic", "t.#", {});
  v.bindExchange("p.ad", "p.durable", "x", {});
  v.bindExchange("p.transient", "p.durable", "y", {});
  b.vhosts.get("staging")!.bindQueue("s.q", OWNER, "h", "", { "x-match": "any", a: "1" });
  return b;
}

Deno.test("definitions: export lists what RabbitMQ 3.10 exports (no exclusive queues, no amq.* exchanges)", () => {
  const d = exportDefinitions(populated());
  assert.deepEqual(d.vhosts, [{ name: "/" }, { name: "staging" }]);
  assert.deepEqual(d.queues!.map((q) => `${q.vhost}|${q.name}`), [
    "/|p.q.ad",
    "/|p.q.durable",
    "/|p.q.transient",
    "staging|s.q",
  ]);
  assert.deepEqual(d.exchanges!.map((e) => `${e.vhost}|${e.name}`), [
    "/|p.ad",
    "/|p.durable",
    "/|p.internal",
    "/|p.transient",
    "staging|h",
  ]);
  assert.deepEqual(d.queues!.find((q) => q.name === "p.q.durable"), {
    name: "p.q.durable",
    vhost: "/",
    durable: true,
    auto_delete: false,
    arguments: {
      "x-message-ttl": 1000,
      "x-max-length": 10,
      "x-dead-letter-exchange": "dlx",
      arr: ["a", 2, true],
      tbl: { k: "v", n: 3 },
    },
  });
  assert.deepEqual(d.exchanges!.find((e) => e.name === "p.durable"), {
    name: "p.durable",
    vhost: "/",
    type: "topic",
    durable: true,
    auto_delete: false,
    internal: false,
    arguments: { "alternate-exchange": "p.ae", n: 5, f: 1.5, b: true, arr: [1, "a"], tbl: { x: 1 } },
  });
  assert.deepEqual(
    d.bindings,
    [
      {
        source: "amq.topic",
        vhost: "/",
        destination: "p.q.durable",
        destination_type: "queue",
        routing_key: "t.#",
        arguments: {},
      },
      {
        source: "p.durable",
        vhost: "/",
        destination: "p.ad",
        destination_type: "exchange",
        routing_key: "x",
        arguments: {},
      },
      {
        source: "p.durable",
        vhost: "/",
        destination: "p.transient",
        destination_type: "exchange",
        routing_key: "y",
        arguments: {},
      },
      {
        source: "p.durable",
        vhost: "/",
        destination: "p.q.durable",
        destination_type: "queue",
        routing_key: "a.#",
        arguments: { h: 1 },
      },
      {
        source: "p.durable",
        vhost: "/",
        destination: "p.q.transient",
        destination_type: "queue",
        routing_key: "b.*",
        arguments: {},
      },
      {
        source: "h",
        vhost: "staging",
        destination: "s.q",
        destination_type: "queue",
        routing_key: "",
        arguments: { "x-match": "any", a: "1" },
      },
    ].sort((
      a,
      b,
    ) => (a.vhost + a.source < b.vhost + b.source ? -1 : a.vhost + a.source > b.vhost + b.source ? 1 : 0)),
  );
  assert.deepEqual(d.users!.map((u) => [u.name, u.tags, u.hashing_algorithm]), [
    ["guest", ["administrator"], "rabbit_password_hashing_sha256"],
    ["ops", ["monitoring", "management"], "rabbit_password_hashing_sha256"],
  ]);
  for (const k of ["topic_permissions", "parameters", "global_parameters", "policies"] as const) {
    assert.deepEqual(d[k], []);
  }
  assert.equal(typeof d.rabbit_version, "string");
});

Deno.test("definitions: durableOnly keeps durable objects and the bindings between them", () => {
  const d = exportDefinitions(populated(), { durableOnly: true });
  assert.deepEqual(d.queues!.map((q) => q.name), ["p.q.ad", "p.q.durable", "s.q"]);
  assert.deepEqual(d.exchanges!.map((e) => e.name), ["p.ad", "p.durable", "p.internal", "h"]);
  assert.deepEqual(
    d.bindings!.map((b) => `${b.source}->${b.destination}`),
    ["amq.topic->p.q.durable", "p.durable->p.ad", "p.durable->p.q.durable", "h->s.q"],
  );
});

Deno.test("definitions: round trip export → fresh broker → import → export is equal", () => {
  const first = exportDefinitions(populated());
  const b = freshBroker();
  importDefinitions(b, structuredClone(first));
  assert.deepEqual(exportDefinitions(b), first);
  // And once more through JSON text, as over HTTP.
  const c = freshBroker();
  importDefinitions(c, JSON.parse(JSON.stringify(first)));
  assert.deepEqual(exportDefinitions(c), first);
});

Deno.test("definitions: imported objects work (routing through imported bindings, typed args)", () => {
  const b = freshBroker();
  importDefinitions(b, exportDefinitions(populated()));
  const v = b.vhosts.get("/")!;
  const q = v.queues.get("p.q.durable")!;
  assert.equal(q.messageTtl, 1000);
  assert.equal(q.limits.maxLength, 10);
  assert.ok(q.options.args["x-max-length"] instanceof TypedField);
  const routed = v.route(v.exchanges.get("p.durable")!, "a.b", undefined);
  assert.deepEqual(routed.map((x) => x.name), ["p.q.durable"]);
  assert.equal(v.exchanges.get("p.internal")!.options.internal, true);
  assert.equal(b.users.get("ops")!.tags.join(","), "monitoring,management");
});

Deno.test("definitions: imports a file exported by RabbitMQ 3.10 (and 3.8's string tags)", () => {
  const fromRabbit = {
    rabbit_version: "3.10.8",
    rabbitmq_version: "3.10.8",
    product_name: "RabbitMQ",
    product_version: "3.10.8",
    users: [
      {
        name: "guest",
        password_hash: "rxlDp+pK7i+b+Qx9VJim1If2OKOe7DSRBaBgFBw1VhSW+I4P",
        hashing_algorithm: "rabbit_password_hashing_sha256",
        tags: ["administrator"],
        limits: {},
      },
      {
        name: "old",
        password_hash: "",
        hashing_algorithm: "rabbit_password_hashing_sha256",
        tags: "monitoring,management",
      },
      { name: "clear", password: "pw", tags: [] },
    ],
    vhosts: [{ name: "/" }, { name: "other", limits: [], metadata: { description: "", tags: [] } }],
    permissions: [{ user: "guest", vhost: "/", configure: ".*", write: ".*", read: ".*" }],
    topic_permissions: [],
    parameters: [],
    global_parameters: [{ name: "internal_cluster_id", value: "rabbitmq-cluster-id-nYuvE0h-OBArOw7SXVVQug" }],
    policies: [],
    queues: [
      { name: "p.q.transient", vhost: "/", durable: false, auto_delete: false, arguments: {} },
      {
        name: "p.q.durable",
        vhost: "/",
        durable: true,
        auto_delete: false,
        arguments: {
          arr: ["a", 2, true],
          tbl: { k: "v", n: 3 },
          "x-dead-letter-exchange": "dlx",
          "x-max-length": 10,
          "x-message-ttl": 1000,
          "x-queue-type": "classic",
        },
      },
      { name: "q2", vhost: "other", durable: true, auto_delete: false, arguments: {} },
    ],
    exchanges: [
      {
        name: "p.durable",
        vhost: "/",
        type: "topic",
        durable: true,
        auto_delete: false,
        internal: false,
        arguments: { "alternate-exchange": "p.ae", arr: [1, "a"], b: true, f: 1.5, n: 5, tbl: { x: 1 } },
      },
      {
        name: "amq.direct",
        vhost: "/",
        type: "direct",
        durable: true,
        auto_delete: false,
        internal: false,
        arguments: {},
      },
    ],
    bindings: [
      {
        source: "p.durable",
        vhost: "/",
        destination: "p.q.durable",
        destination_type: "queue",
        routing_key: "a.#",
        arguments: { h: 1 },
      },
      {
        source: "amq.fanout",
        vhost: "other",
        destination: "q2",
        destination_type: "queue",
        routing_key: "",
        arguments: {},
      },
    ],
  };
  const b = freshBroker();
  importDefinitions(b, fromRabbit as unknown as Definitions);
  assert.ok(b.vhosts.has("other"));
  assert.ok(b.vhosts.get("/")!.queues.has("p.q.durable"));
  assert.deepEqual(b.users.get("old")!.tags, ["monitoring", "management"]);
  assert.equal(b.users.get("guest")!.loopbackOnly, true);
  const ok = b.users.authenticate("clear", new TextEncoder().encode("pw"), "10.0.0.1");
  assert.equal("name" in ok && ok.name, "clear");
  const out = exportDefinitions(b);
  assert.deepEqual(out.bindings!.map((x) => `${x.vhost}|${x.source}->${x.destination}`), [
    "/|p.durable->p.q.durable",
    "other|amq.fanout->q2",
  ]);
});

Deno.test("definitions: bad documents are refused with a DefinitionsError before anything changes", () => {
  const b = freshBroker();
  const bad: unknown[] = [
    null,
    [],
    { queues: {} },
    { queues: [1] },
    { queues: [{ name: "q" }] },
    { queues: [{ name: "q", vhost: "/", durable: "yes" }] },
    { queues: [{ name: "q", vhost: "/", arguments: [] }] },
    { exchanges: [{ name: "e", vhost: "/" }] },
    { bindings: [{ source: "a", vhost: "/", destination: "b", destination_type: "topic" }] },
    { users: [{ name: "u", password: 5 }], queues: [{ name: "q", vhost: "/" }] },
  ];
  for (const d of bad) {
    assert.throws(() => importDefinitions(b, d as Definitions), DefinitionsError, JSON.stringify(d));
  }
  assert.deepEqual([...b.vhosts.get("/")!.queues.keys()], []);
  assert.deepEqual(b.users.names(), ["guest"]);
  // A declare the kernel refuses names the object.
  assert.throws(
    () =>
      importDefinitions(b, {
        exchanges: [{
          name: "e",
          vhost: "/",
          type: "nope",
          durable: true,
          auto_delete: false,
          internal: false,
          arguments: {},
        }],
      }),
    {
      name: "DefinitionsError",
      message: "exchange 'e' in vhost '/': COMMAND_INVALID - unknown exchange type 'nope'",
    },
  );
});

Deno.test("definitions: field values map to JSON as RabbitMQ does, and back", () => {
  const t: FieldTable = {
    s: "x",
    n: 1,
    l: int64(2 ** 40),
    b: new TypedField("b", -3),
    d: 1.25,
    bool: false,
    v: null,
    ts: new Date(1_700_000_000_000),
    bin: new TextEncoder().encode("raw"),
    arr: [1, [2], { a: "b" }],
    tbl: { inner: { deep: true } },
  };
  const json = fieldTableToJson(t);
  assert.deepEqual(json, {
    s: "x",
    n: 1,
    l: 2 ** 40,
    b: -3,
    d: 1.25,
    bool: false,
    v: null,
    ts: 1_700_000_000,
    bin: "raw",
    arr: [1, [2], { a: "b" }],
    tbl: { inner: { deep: true } },
  });
  const back = jsonToFieldTable(json);
  assert.ok(back.n instanceof TypedField && back.n.type === "l");
  assert.equal(back.d, 1.25);
  assert.deepEqual(fieldTableToJson(back), json);
});
