import assert from "node:assert/strict";
import { routerConformance } from "../_conformance.ts";
import { messageDeduplicationPlugin } from "./message_deduplication.ts";

for (
  const c of routerConformance({
    plugin: messageDeduplicationPlugin,
    match: { bindingKey: "", routingKey: "anything" },
  })
) {
  Deno.test({ name: `x-message-deduplication: ${c.name}`, ignore: c.ignore !== undefined, fn: c.fn });
}

const owner = (args: Record<string, number>) => ({
  name: "d",
  vhost: "/",
  effectiveArg: (x: string) => args[x],
});

function routed(
  router: ReturnType<typeof messageDeduplicationPlugin.create>,
  id: string | undefined,
): number {
  let n = 0;
  router.route({
    exchange: "d",
    routingKey: "",
    headers: id === undefined ? undefined : { "x-deduplication-header": id },
  }, { queue: () => n++, exchange: () => n++ });
  return n;
}

Deno.test("x-message-deduplication route() drops a repeated x-deduplication-header value", () => {
  const r = messageDeduplicationPlugin.create(owner({}));
  r.bind({ destination: { kind: "queue", name: "q" }, routingKey: "", args: {} });
  assert.deepEqual(["a", "a", "b", "a", undefined, undefined].map((id) => routed(r, id)), [1, 0, 1, 0, 1, 1]);
});

Deno.test("x-message-deduplication route() forgets the oldest value past x-cache-size", () => {
  const r = messageDeduplicationPlugin.create(owner({ "x-cache-size": 2 }));
  r.bind({ destination: { kind: "queue", name: "q" }, routingKey: "", args: {} });
  assert.deepEqual(["a", "b", "c", "a", "c"].map((id) => routed(r, id)), [1, 1, 1, 1, 0]);
});

Deno.test("x-message-deduplication validate() refuses a non-numeric cache size", () => {
  assert.throws(() => messageDeduplicationPlugin.validate!({ "x-cache-size": "lots" }), {
    replyText: "PRECONDITION_FAILED - invalid argument 'x-cache-size': expected a positive integer",
  });
});
