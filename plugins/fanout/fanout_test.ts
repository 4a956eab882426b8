import { routerConformance } from "../_conformance.ts";
import { fanoutPlugin } from "./fanout.ts";

for (
  const c of routerConformance({
    plugin: fanoutPlugin,
    match: { bindingKey: "", routingKey: "anything" },
  })
) {
  Deno.test({ name: `fanout: ${c.name}`, ignore: c.ignore !== undefined, fn: c.fn });
}
