/**
 * The `x-delayed-message` exchange type.
 * @module
 */
export { delayedMessagePlugin, delayedMessagePlugin as default } from "./delayed_message.ts";
