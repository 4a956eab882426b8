/**
 * The `dead-letter` plugin (stage `dead-letter`).
 * @module
 */
export { deadLetterPlugin, deadLetterPlugin as default } from "./dead_letter.ts";
