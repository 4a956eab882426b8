/**
 * The `dead-letter` plugin (stage `dead-letter`): a message a queue lets go of — rejected or
 * nacked without requeue, or pushed out by the queue's length limit — goes on to the exchange
 * named by the queue's `x-dead-letter-exchange` argument, with `x-dead-letter-routing-key` as its
 * routing key when set (its own keys otherwise). Without the argument, the queue's policy keys
 * `dead-letter-exchange` and `dead-letter-routing-key` serve (this plugin declares them). The kernel writes the `x-death` headers, routes
 * it, and drops it for a queue that would close a cycle with no rejection in it.
 *
 * @module
 */

import type { Owner, Router, RouteSink, RoutingInput, StagePlugin } from "../api.ts";

/** Picks the dead-letter exchange and routing key of one queue. */
class DeadLetterRouter implements Router {
  readonly #owner: Owner;

  constructor(owner: Owner) {
    this.#owner = owner;
  }

  route(_input: RoutingInput, out: RouteSink): void {
    // Read on every call (dead-lettering is the rare path) so a policy change applies at once.
    const exchange = this.#owner.effectiveArg("x-dead-letter-exchange", "dead-letter-exchange");
    if (typeof exchange !== "string") return;
    const key = this.#owner.effectiveArg("x-dead-letter-routing-key", "dead-letter-routing-key");
    out.exchange(exchange, typeof key === "string" ? key : undefined);
  }
}

/** The `dead-letter` plugin. */
export const deadLetterPlugin: StagePlugin = {
  name: "dead-letter",
  stage: "dead-letter",
  create: (owner) => new DeadLetterRouter(owner),
  policyKeys: [
    {
      name: "dead-letter-exchange",
      validate: (v) => typeof v === "string" ? undefined : "is not a valid dead letter exchange name",
    },
    {
      name: "dead-letter-routing-key",
      validate: (v) => typeof v === "string" ? undefined : "is not a valid dead letter routing key",
    },
  ],
};
