/**
 * The `fanout` exchange type: every message goes to every binding; keys are ignored.
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

/** Router for one fanout exchange. */
export class FanoutRouter implements BindableRouter {
  readonly #all: Binding[] = [];

  route(_input: RoutingInput, out: RouteSink): void {
    const all = this.#all;
    for (let i = 0; i < all.length; i++) {
      const d = all[i].destination;
      if (d.kind === "queue") out.queue(d.name);
      else out.exchange(d.name);
    }
  }

  bind(binding: Binding): boolean {
    if (this.#all.some((b) => sameBinding(b, binding))) return false;
    this.#all.push(binding);
    return true;
  }

  unbind(binding: Binding): boolean {
    const i = this.#all.findIndex((b) => sameBinding(b, binding));
    if (i < 0) return false;
    this.#all.splice(i, 1);
    return true;
  }

  bindings(): Iterable<Binding> {
    return this.#all;
  }

  get size(): number {
    return this.#all.length;
  }
}

/** The `fanout` exchange type plugin. */
export const fanoutPlugin: ExchangeTypePlugin = {
  name: "fanout",
  stage: "exchange",
  create: () => new FanoutRouter(),
};
