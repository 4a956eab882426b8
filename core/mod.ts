/**
 * Warren's kernel: the AMQP 0-9-1 wire codec, connection and channel state machines, and the
 * broker model (vhosts, exchanges, queues, consumers). Runtime-free: it touches no socket, file
 * or timer. The server gives it bytes through a {@link Transport} and time through `tick(now)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Broker } from "./mod.ts";
 * const broker = new Broker({ config: { heartbeat: 30 } });
 * assert.equal(broker.config.frameMax, 131072);
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./transport.ts";
export * from "./wire/mod.ts";
export * from "./broker/broker.ts";
export * from "./broker/router.ts";
export * from "./broker/store.ts";
export { Consumer } from "./broker/consumer.ts";
export { Exchange } from "./broker/exchange.ts";
export { Delivery, Message, type SenderSelected, senderSelected } from "./broker/message.ts";
export { Queue } from "./broker/queue.ts";
export { addStats, ChurnStats, MessageStats } from "./broker/stats.ts";
export {
  checkPassword,
  HASHING_ALGORITHM,
  hashPassword,
  isLoopback,
  type User,
  type UserChange,
  type UserOptions,
  type UserRecord,
  UserStore,
} from "./broker/users.ts";
export {
  type Access,
  accessToResourceRefused,
  type Permission,
  type PermissionChange,
  PermissionStore,
  ResourceAccess,
  type ResourceKind,
} from "./broker/permissions.ts";
export { VHost } from "./broker/vhost.ts";
export {
  CORE_POLICY_KEYS,
  erlangTerm,
  matchPolicy,
  type Policy,
  type PolicyApplyTo,
  PolicyError,
  type PolicyInput,
  type PolicyKey,
  type PolicyValue,
  validatePolicy,
} from "./broker/policies.ts";
export { Connection } from "./protocol/connection.ts";
export { Channel } from "./protocol/channel.ts";
