/**
 * Deduplication: the `x-message-deduplication` exchange type, and queue-level deduplication.
 * @module
 */
import { messageDeduplicationPlugin, messageDeduplicationQueuePlugin } from "./message_deduplication.ts";

export { messageDeduplicationPlugin, messageDeduplicationQueuePlugin };
/** Both levels, as a user plugin module would export them. */
export default [messageDeduplicationPlugin, messageDeduplicationQueuePlugin];
