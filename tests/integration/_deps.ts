// Third-party AMQP clients used by the integration tests, pinned in one place.
// Only the npm registry is reachable from CI, so everything comes from npm: (see deno.json "imports").

// @ts-types="@types/amqplib"
import amqplib from "amqplib";
export { amqplib };
// @ts-types="@types/amqplib"
export type { Channel, ConfirmChannel, ConsumeMessage, GetMessage, Message } from "amqplib";
// @ts-types="@types/amqplib"
export type { ChannelModel as AmqplibConnection } from "amqplib";

export { AMQPClient, AMQPError } from "@cloudamqp/amqp-client";
export type { AMQPChannel, AMQPMessage } from "@cloudamqp/amqp-client";
