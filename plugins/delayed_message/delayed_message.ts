/**
 * The `x-delayed-message` exchange type (after RabbitMQ's rabbitmq_delayed_message_exchange):
 * it routes like the type named by its `x-delayed-type` argument, but a message with a positive
 * `x-delay` header (ms) is held first and routed when due. The kernel holds delayed messages in
 * one heap per vhost (memory per message: one small entry beyond the message), releases them in
 * due order on its tick, and keeps no timer per message, so delays of years cost nothing extra.
 *
 * Held messages live in memory only for now: they do not survive a restart until the durable
 * store offers plugins a place for them.
 *
 * @module
 */

import {
  type BindableRouter,
  type Binding,
  type ExchangeTypePlugin,
  type FieldTable,
  type FieldValue,
  type Owner,
  preconditionFailed,
  type RouteSink,
  type RoutingInput,
  TypedField,
} from "../api.ts";

/** The delay in ms from an `x-delay` header, or 0 for none (absent, not a number, or ≤ 0). */
function delayOf(value: FieldValue | undefined): number {
  const n = typeof value === "number" ? value : value instanceof TypedField ? value.valueOf() : NaN;
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Router for one delayed-message exchange: the wrapped type's router plus the delay. */
class DelayedRouter implements BindableRouter {
  readonly #inner: BindableRouter;

  constructor(inner: BindableRouter) {
    this.#inner = inner;
  }

  route(input: RoutingInput, out: RouteSink): void {
    if (!input.delayed && out.delay !== undefined) {
      const ms = delayOf(input.headers?.["x-delay"]);
      if (ms > 0) {
        out.delay(ms);
        return;
      }
    }
    this.#inner.route(input, out);
  }

  bind(binding: Binding): boolean {
    return this.#inner.bind(binding);
  }

  unbind(binding: Binding): boolean {
    return this.#inner.unbind(binding);
  }

  bindings(): Iterable<Binding> {
    return this.#inner.bindings();
  }

  get size(): number {
    return this.#inner.size;
  }
}

/** The `x-delayed-message` exchange type. */
export const delayedMessagePlugin: ExchangeTypePlugin = {
  name: "x-delayed-message",
  stage: "exchange",
  validate(args: FieldTable): void {
    const type = args["x-delayed-type"];
    if (typeof type !== "string" || type === "" || type === "x-delayed-message") {
      // RabbitMQ's plugin's words.
      throw preconditionFailed("Invalid argument, 'x-delayed-type' must be an existing exchange type");
    }
  },
  create(owner: Owner): BindableRouter {
    const type = owner.effectiveArg("x-delayed-type", "delayed-type") as string;
    const inner = owner.routerOf?.(type);
    if (inner === undefined) {
      throw preconditionFailed("Invalid argument, 'x-delayed-type' must be an existing exchange type");
    }
    return new DelayedRouter(inner);
  },
};
