/**
 * The `fanout` exchange type: every message goes to every binding; keys are ignored.
 *
 * @module
 */

import { type ExchangeTypePlugin, ListRouter, type RouteSink, routeTo, type RoutingInput } from "../api.ts";

/** Router for one fanout exchange. */
export class FanoutRouter extends ListRouter {
  route(_input: RoutingInput, out: RouteSink): void {
    routeTo(this.list, out);
  }
}

/** The `fanout` exchange type plugin. */
export const fanoutPlugin: ExchangeTypePlugin = {
  name: "fanout",
  stage: "exchange",
  create: () => new FanoutRouter(),
};
