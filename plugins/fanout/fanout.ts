/**
 * The `fanout` exchange type: every message goes to every binding; keys are ignored.
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

/** Router for one fanout exchange. */
export class FanoutRouter implements BindableRouter {
  readonly #all = new BindingList();

  route(_input: RoutingInput, out: RouteSink): void {
    routeTo(this.#all.items, out);
  }

  bind(binding: Binding): boolean {
    return this.#all.add(binding);
  }

  unbind(binding: Binding): boolean {
    return this.#all.remove(binding);
  }

  bindings(): Iterable<Binding> {
    return this.#all;
  }

  get size(): number {
    return this.#all.size;
  }
}

/** The `fanout` exchange type plugin. */
export const fanoutPlugin: ExchangeTypePlugin = {
  name: "fanout",
  stage: "exchange",
  create: () => new FanoutRouter(),
};
