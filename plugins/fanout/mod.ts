/**
 * The `fanout` exchange type.
 * @module
 */
export { fanoutPlugin, fanoutPlugin as default, FanoutRouter } from "./fanout.ts";
