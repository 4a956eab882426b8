import { routerConformance } from "../_conformance.ts";
import { directPlugin } from "./direct.ts";

for (
  const c of routerConformance({
    plugin: directPlugin,
    match: { bindingKey: "orders", routingKey: "orders" },
    miss: { routingKey: "order" },
  })
) {
  Deno.test({ name: `direct: ${c.name}`, ignore: c.ignore !== undefined, fn: c.fn });
}
