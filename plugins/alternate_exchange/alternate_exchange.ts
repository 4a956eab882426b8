/**
 * The `alternate-exchange` plugin (stage `unroutable`): a message that an exchange routed
 * nowhere goes on to the exchange named by that exchange's `alternate-exchange` argument
 * (RabbitMQ's AE), or else by its policy's `alternate-exchange` key. The kernel calls it only
 * when the exchange found no destination, follows the alternate exchange like any other (each
 * exchange once per publish, so AE chains and cycles end), and does not return (312) a message
 * that an alternate exchange routed.
 *
 * @module
 */

import type { Owner, Router, RouteSink, RoutingInput, StagePlugin } from "../api.ts";

/** Routes unroutable messages of one exchange to its alternate exchange, if it names one. */
class AlternateExchangeRouter implements Router {
  readonly #owner: Owner;

  constructor(owner: Owner) {
    this.#owner = owner;
  }

  route(_input: RoutingInput, out: RouteSink): void {
    // Read on every call (unroutable messages are the rare path) so a policy change applies at once.
    const ae = this.#owner.effectiveArg("alternate-exchange", "alternate-exchange");
    if (typeof ae === "string" && ae !== "") out.exchange(ae);
  }
}

/** The `alternate-exchange` plugin. */
export const alternateExchangePlugin: StagePlugin = {
  name: "alternate-exchange",
  stage: "unroutable",
  create: (owner) => new AlternateExchangeRouter(owner),
  policyKeys: [{
    name: "alternate-exchange",
    validate: (v) => typeof v === "string" ? undefined : "is not a valid alternate exchange name",
  }],
};
