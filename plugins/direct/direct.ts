/**
 * The `direct` exchange type: a message goes to every binding whose key equals its routing key.
 *
 * Bindings are grouped by key in a Map, so `route()` is one lookup and a loop over a prebuilt
 * array: no allocation per publish. The default exchange is a `direct` exchange.
 *
 * @module
 */

import {
  type BindableRouter,
  type Binding,
  BindingList,
  type ExchangeTypePlugin,
  type RouteSink,
  routeTo,
  type RoutingInput,
} from "../api.ts";

/** Router for one direct exchange. */
export class DirectRouter implements BindableRouter {
  readonly #byKey = new Map<string, BindingList>();
  #size = 0;

  route(input: RoutingInput, out: RouteSink): void {
    const list = this.#byKey.get(input.routingKey);
    if (list !== undefined) routeTo(list.items, out);
  }

  bind(binding: Binding): boolean {
    let list = this.#byKey.get(binding.routingKey);
    if (list === undefined) this.#byKey.set(binding.routingKey, list = new BindingList());
    if (!list.add(binding)) return false;
    this.#size++;
    return true;
  }

  unbind(binding: Binding): boolean {
    const list = this.#byKey.get(binding.routingKey);
    if (list === undefined || !list.remove(binding)) return false;
    if (list.size === 0) this.#byKey.delete(binding.routingKey);
    this.#size--;
    return true;
  }

  *bindings(): Iterable<Binding> {
    for (const list of this.#byKey.values()) yield* list;
  }

  get size(): number {
    return this.#size;
  }
}

/** The `direct` exchange type plugin. */
export const directPlugin: ExchangeTypePlugin = {
  name: "direct",
  stage: "exchange",
  create: () => new DirectRouter(),
};
