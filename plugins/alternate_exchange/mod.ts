/**
 * The `alternate-exchange` plugin (stage `unroutable`).
 * @module
 */
export { alternateExchangePlugin, alternateExchangePlugin as default } from "./alternate_exchange.ts";
