/**
 * The `x-message-deduplication` exchange type.
 * @module
 */
export {
  messageDeduplicationPlugin,
  messageDeduplicationPlugin as default,
} from "./message_deduplication.ts";
