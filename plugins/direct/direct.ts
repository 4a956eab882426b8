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
  type ExchangeTypePlugin,
  type RouteSink,
  type RoutingInput,
  sameBinding,
} from "../api.ts";

/** Router for one direct exchange. */
export class DirectRouter implements BindableRouter {
  readonly #byKey = new Map<string, Binding[]>();
  #size = 0;

  route(input: RoutingInput, out: RouteSink): void {
    const list = this.#byKey.get(input.routingKey);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      const d = list[i].destination;
      if (d.kind === "queue") out.queue(d.name);
      else out.exchange(d.name);
    }
  }

  bind(binding: Binding): boolean {
    let list = this.#byKey.get(binding.routingKey);
    if (list === undefined) this.#byKey.set(binding.routingKey, list = []);
    for (const b of list) if (sameBinding(b, binding)) return false;
    list.push(binding);
    this.#size++;
    return true;
  }

  unbind(binding: Binding): boolean {
    const list = this.#byKey.get(binding.routingKey);
    if (list === undefined) return false;
    const i = list.findIndex((b) => sameBinding(b, binding));
    if (i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) this.#byKey.delete(binding.routingKey);
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
