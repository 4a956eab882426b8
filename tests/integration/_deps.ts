// Third-party AMQP clients used by the integration tests, pinned in one place.
// Only the npm registry is reachable from CI, so everything comes from npm: specifiers.
// (Inline specifiers because deno.json has no import map entries for them yet; moving these two into
// deno.json "imports" would let this ignore go.)
// deno-lint-ignore-file no-import-prefix

// @ts-types="npm:@types/amqplib@0.10"
import amqplib from "npm:amqplib@0.10";
export { amqplib };
// @ts-types="npm:@types/amqplib@0.10"
export type { Channel, ConfirmChannel, ConsumeMessage, GetMessage, Message } from "npm:amqplib@0.10";
// @ts-types="npm:@types/amqplib@0.10"
export type { ChannelModel as AmqplibConnection } from "npm:amqplib@0.10";

export { AMQPClient, AMQPError } from "npm:@cloudamqp/amqp-client@3";
export type { AMQPChannel, AMQPMessage } from "npm:@cloudamqp/amqp-client@3";
