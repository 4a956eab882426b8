import assert from "node:assert/strict";
import { AmqpError } from "../errors.ts";
import { EMPTY_TABLE } from "../wire/field_table.ts";
import { Broker } from "./broker.ts";
import type { BindableRouter, Binding, ExchangeTypePlugin, Owner, StagePlugin } from "./router.ts";

/** A fanout-like type defined here, so the kernel is tested without the plugins folder. */
function everyBinding(name: string): ExchangeTypePlugin {
  return {
    name,
    stage: "exchange",
    create(): BindableRouter {
      const all: Binding[] = [];
      return {
        route(_input, out) {
          for (const b of all) {
            b.destination.kind === "queue" ? out.queue(b.destination.name) : out.exchange(b.destination.name);
          }
        },
        bind(b) {
          all.push(b);
          return true;
        },
        unbind() {
          return false;
        },
        bindings: () => all,
        get size() {
          return all.length;
        },
      };
    },
  };
}

const alternate: StagePlugin = {
  name: "ae",
  stage: "unroutable",
  create: (owner: Owner) => ({
    route(_input, out) {
      const ae = owner.effectiveArg("alternate-exchange", "alternate-exchange");
      if (typeof ae === "string") out.exchange(ae);
    },
  }),
};

const OWNER = {};

function setup(extra: (ExchangeTypePlugin | StagePlugin)[] = []) {
  const errors: string[] = [];
  const broker = new Broker({
    log: { debug() {}, info() {}, warn() {}, error: (msg, f) => errors.push(`${msg} ${f?.plugin}`) },
  });
  broker.register(everyBinding("direct")); // the default exchange needs a "direct" type
  broker.register(everyBinding("fanout"));
  for (const p of extra) broker.register(p);
  const vhost = broker.addVHost("/");
  const queue = (name: string) =>
    vhost.declareQueue({
      name,
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      args: {},
      owner: null,
    });
  const exchange = (name: string, type = "fanout", args = {}) =>
    vhost.declareExchange({
      name,
      type,
      passive: false,
      durable: false,
      autoDelete: false,
      internal: false,
      args,
    });
  return { broker, vhost, queue, exchange, errors };
}

Deno.test("VHost.route() follows an exchange-to-exchange loop once and delivers once", () => {
  const { vhost, queue, exchange } = setup();
  const e1 = exchange("e1");
  exchange("e2");
  queue("q");
  vhost.bindExchange("e2", "e1", "", {});
  vhost.bindExchange("e1", "e2", "", {});
  vhost.bindQueue("q", OWNER, "e2", "", {});
  vhost.bindQueue("q", OWNER, "e1", "", {});
  const routed = vhost.route(e1, "k", undefined);
  assert.deepEqual(routed.map((q) => q.name), ["q"]);
});

Deno.test("VHost.route() hands an exchange that routed nowhere to the unroutable stage", () => {
  const { vhost, queue, exchange } = setup([alternate]);
  exchange("ae");
  const main = exchange("main", "fanout", { "alternate-exchange": "ae" });
  queue("caught");
  vhost.bindQueue("caught", OWNER, "ae", "", {});
  assert.deepEqual(vhost.route(main, "k", undefined).map((q) => q.name), ["caught"]);
  // Once main routes somewhere, the alternate exchange is not consulted.
  queue("normal");
  vhost.bindQueue("normal", OWNER, "main", "", {});
  assert.deepEqual(vhost.route(main, "k", undefined).map((q) => q.name), ["normal"]);
});

Deno.test("VHost.route() ends a cycle of alternate exchanges", () => {
  const { vhost, exchange } = setup([alternate]);
  const a = exchange("a", "fanout", { "alternate-exchange": "b" });
  exchange("b", "fanout", { "alternate-exchange": "a" });
  assert.deepEqual(vhost.route(a, "k", undefined), []);
});

Deno.test("VHost.route() routes every key of a multi-key (CC/BCC) publish", () => {
  const types = setup();
  const byKey: ExchangeTypePlugin = {
    name: "x-key-is-queue",
    stage: "exchange",
    create: () => ({
      route: (input, out) => out.queue(input.routingKey),
      bind: () => true,
      unbind: () => false,
      bindings: () => [],
      size: 0,
    }),
  };
  types.broker.register(byKey);
  const e = types.exchange("by-key", "x-key-is-queue");
  types.queue("a");
  types.queue("b");
  assert.deepEqual(types.vhost.route(e, ["a", "b", "a", "nope"], undefined).map((q) => q.name), ["a", "b"]);
});

Deno.test("VHost.route() turns a plugin's own exception into 541 and logs it once", () => {
  const broken: ExchangeTypePlugin = {
    name: "x-broken",
    stage: "exchange",
    create: () => ({
      route() {
        throw new Error("boom");
      },
      bind() {
        throw new Error("bind boom");
      },
      unbind: () => false,
      bindings: () => [],
      size: 0,
    }),
  };
  const { vhost, exchange, queue, errors } = setup([broken]);
  const e = exchange("b", "x-broken");
  assert.throws(() => vhost.route(e, "k", undefined), (err: AmqpError) => {
    assert.equal(err.code, 541);
    assert.equal(err.replyText, "INTERNAL_ERROR - plugin 'x-broken' failed to route a message");
    return true;
  });
  queue("q");
  assert.throws(() => vhost.bindQueue("q", OWNER, "b", "", {}), (err: AmqpError) => {
    assert.equal(err.code, 541);
    return true;
  });
  assert.deepEqual(errors, ["plugin failed x-broken", "plugin failed x-broken"]);
  // Other exchanges are unaffected.
  const ok = exchange("ok");
  vhost.bindQueue("q", OWNER, "ok", "", {});
  assert.deepEqual(vhost.route(ok, "k", undefined).map((q) => q.name), ["q"]);
});

Deno.test("VHost.declareExchange() passes a plugin's 406 through and refuses an unknown type with 503", () => {
  const picky: ExchangeTypePlugin = {
    ...everyBinding("x-picky"),
    validate(args) {
      if (args.size === undefined) {
        throw new AmqpError("PRECONDITION_FAILED", "x-picky needs a 'size' argument");
      }
    },
  };
  const { exchange } = setup([picky]);
  assert.throws(() => exchange("p", "x-picky"), {
    replyText: "PRECONDITION_FAILED - x-picky needs a 'size' argument",
  });
  assert.throws(() => exchange("u", "x-nope"), {
    code: 503,
    replyText: "COMMAND_INVALID - unknown exchange type 'x-nope'",
  });
});

Deno.test("VHost.restoreExchange() keeps a missing type's bindings and routes again once the plugin is back", () => {
  const { broker, vhost, queue } = setup();
  queue("q");
  const binding: Binding = { destination: { kind: "queue", name: "q" }, routingKey: "", args: EMPTY_TABLE };
  const e = vhost.restoreExchange("later", "x-later", {
    durable: true,
    autoDelete: false,
    internal: false,
    args: {},
  }, [
    binding,
  ]);
  assert.equal(e.router.size, 1);
  assert.throws(() => vhost.route(e, "k", undefined), {
    code: 406,
    replyText:
      "PRECONDITION_FAILED - Cannot route message through exchange 'later' in vhost '/': exchange type x-later not found",
  });
  broker.register(everyBinding("x-later"));
  assert.deepEqual(vhost.route(e, "k", undefined).map((q) => q.name), ["q"]);
});

const deadLetter: StagePlugin = {
  name: "dl",
  stage: "dead-letter",
  create: (owner: Owner) => ({
    route(_input, out) {
      const dlx = owner.effectiveArg("x-dead-letter-exchange", "dead-letter-exchange");
      if (typeof dlx === "string") out.exchange(dlx);
    },
  }),
};

Deno.test("VHost dead-lettering: maxlen back into the same queue is a cycle and is dropped, logged once", async () => {
  const warnings: string[] = [];
  const broker = new Broker({ log: { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} } });
  broker.register(everyBinding("direct"));
  broker.register(everyBinding("fanout"));
  broker.register(deadLetter);
  const vhost = broker.addVHost("/");
  vhost.declareExchange({
    name: "dlx",
    type: "fanout",
    passive: false,
    durable: false,
    autoDelete: false,
    internal: false,
    args: {},
  });
  const q = vhost.declareQueue({
    name: "q",
    passive: false,
    durable: false,
    exclusive: false,
    autoDelete: false,
    args: { "x-max-length": 1, "x-dead-letter-exchange": "dlx" },
    owner: null,
  });
  vhost.bindQueue("q", OWNER, "dlx", "", {});
  const { Message } = await import("./message.ts");
  for (const body of ["a", "b", "c"]) {
    q.enqueue(new Message("", "q", new Uint8Array(2), new TextEncoder().encode(body)));
  }
  await Promise.resolve(); // dead-lettering runs in a microtask
  assert.equal(q.messageCount, 1); // "c": "a" and "b" were pushed out and their way back was a cycle
  assert.deepEqual(warnings, ["dead-letter cycle: message dropped"]);
});
