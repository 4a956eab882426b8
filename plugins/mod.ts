/**
 * The default plugin set, registered at start-up exactly as a user's plugin would be.
 *
 * @module
 */

import type { RouterPlugin } from "./api.ts";
import { alternateExchangePlugin } from "./alternate_exchange/mod.ts";
import { deadLetterPlugin } from "./dead_letter/mod.ts";
import { delayedMessagePlugin } from "./delayed_message/mod.ts";
import { messageDeduplicationPlugin, messageDeduplicationQueuePlugin } from "./message_deduplication/mod.ts";
import { directPlugin } from "./direct/mod.ts";
import { fanoutPlugin } from "./fanout/mod.ts";
import { headersPlugin } from "./headers/mod.ts";
import { topicPlugin } from "./topic/mod.ts";

/** Built-in plugins, in registration order. */
export const DEFAULT_PLUGINS: readonly RouterPlugin[] = [
  directPlugin,
  fanoutPlugin,
  headersPlugin,
  topicPlugin,
  delayedMessagePlugin,
  messageDeduplicationPlugin,
  messageDeduplicationQueuePlugin,
  alternateExchangePlugin,
  deadLetterPlugin,
];
