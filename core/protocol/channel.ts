/**
 * Channel: per-channel protocol state and the methods of the exchange, queue, basic, confirm
 * and access classes.
 *
 * Owns, for one channel: content assembly (publish → header → body frames, checked against the
 * declared size and the broker's max message size), the consumers it created, the unacked
 * deliveries in delivery-tag order (a deque: acks at the head are O(1), others binary-search),
 * prefetch (per consumer and per channel), channel.flow, publisher confirms, and release of all
 * of that when the channel closes. It is also the `ConsumerChannel` queues deliver through.
 *
 * @module
 */

import { Consumer, type ConsumerChannel } from "../broker/consumer.ts";
import { Deque } from "../broker/deque.ts";
import { countAck, countDelivery, countGet, MessageStats } from "../broker/stats.ts";
import {
  type Delivery,
  hasExpiration,
  hasHeaders,
  hasReplyTo,
  Message,
  parseExpiration,
  senderSelected,
  withReplyTo,
} from "../broker/message.ts";
import type { Exchange } from "../broker/exchange.ts";
import { ResourceAccess } from "../broker/permissions.ts";
import type { Queue } from "../broker/queue.ts";
import type { VHost } from "../broker/vhost.ts";
import { accessRefused, AmqpError, notFound, preconditionFailed } from "../errors.ts";
import { type AnyMethod, type BasicPublish, CLASS, METHOD } from "../wire/methods.ts";
import { propertiesProblem } from "../wire/properties.ts";
import type { FieldTable } from "../wire/field_table.ts";
import type { Connection } from "./connection.ts";

/** The pseudo-queue of direct reply-to, and the prefix of the reply-to names it hands out. */
const REPLY_TO = "amq.rabbitmq.reply-to";
const REPLY_TO_PREFIX = `${REPLY_TO}.`;

/** What settling a delivery does with it: gone, back to its queue, or dead-lettered. */
type Outcome = "ack" | "requeue" | "reject";

/** Shared raw properties of a message published with none set (flags 0): no copy per publish. */
const NO_PROPERTIES = new Uint8Array(2);

const SHORTSTR_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** `prefix` + 22 random URL-safe characters, like RabbitMQ's `amq.gen-…` and `amq.ctag-…` names. */
function randomName(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(22));
  let s = prefix;
  for (let i = 0; i < bytes.length; i++) s += SHORTSTR_CHARS[bytes[i] & 63];
  return s;
}

/** Deliveries leave a channel's unacked set (settled, requeued, channel closed): their queues' counts drop. */
function untrack(deliveries: readonly Delivery[]): void {
  for (let i = 0; i < deliveries.length; i++) {
    const d = deliveries[i];
    d.queue.unackedCount--;
    d.queue.unackedBytes -= d.message.body.length;
  }
}

/** One AMQP channel. */
export class Channel implements ConsumerChannel {
  #state: "open" | "closing" | "closed" = "open";
  readonly #conn: Connection;
  readonly #vhost: VHost;

  // Content assembly.
  #publish: BasicPublish | null = null;
  #properties: Uint8Array | null = null;
  #bodySize = 0;
  #body: Uint8Array | null = null;
  #bodyReceived = 0;

  // Deliveries.
  #nextTag = 1;
  readonly #unacked = new Deque<Delivery>();
  readonly #consumers = new Map<string, Consumer>();
  /** basic.qos global=false: the prefetch given to consumers created afterwards. */
  #consumerPrefetch = 0;
  /** basic.qos global=true: the limit on unacked deliveries across the channel. */
  #channelPrefetch = 0;
  /** channel.flow: false while the client asked us to stop delivering. */
  #active = true;
  /** Set by the first channel.open; a second one is a CHANNEL_ERROR. */
  #opened = false;
  /** Last `x-consumer-timeout` check (ms). */
  #lastTimeoutCheck = 0;
  /** Direct reply-to consumer: its tag, and the token requests carry in their reply-to. */
  #replies: { tag: string; token: string } | null = null;

  // Transactions: publishes and settlements wait here until tx.commit.
  #tx = false;
  #txPublishes: { exchange: Exchange; message: Message; mandatory: boolean }[] = [];
  #txSettles: { deliveries: Delivery[]; outcome: Outcome }[] = [];

  // Publishing.
  #confirm = false;
  #publishSeq = 0;
  /**
   * Confirms held back in publish order until the store's sync covers them (a persistent
   * message in a durable queue is confirmed only once on disk): the tag, negated for a nack.
   * A later confirm never overtakes an earlier one, so acks can use `multiple`.
   */
  readonly #heldConfirms = new Deque<number>();
  /** Highest publish tag whose message waits for the store's sync. */
  #lastDurableTag = 0;
  /** A store sync has been asked for on behalf of this channel's held confirms. */
  #syncRequested = false;
  /** Set by #route: the message it routed went into a durable queue's journal. */
  #routedJournaled = false;
  /** The queue most recently declared on this channel, for the empty-name shortcut. */
  #lastQueue = "";
  /** This channel's message counters (RabbitMQ's per-channel `message_stats`). */
  readonly stats = new MessageStats();

  /**
   * @param conn the connection
   * @param id channel number
   */
  constructor(conn: Connection, readonly id: number) {
    this.#conn = conn;
    this.#vhost = conn.vhost!;
    this.#access = new ResourceAccess(conn.broker.permissions, conn.user!.name, this.#vhost.name);
  }

  /** The user's permissions in this vhost, checked before each operation as RabbitMQ checks them. */
  readonly #access: ResourceAccess;

  /** Consumers on this channel. */
  get consumers(): ReadonlyMap<string, Consumer> {
    return this.#consumers;
  }

  /** Number of delivered, unacknowledged messages. */
  get unackedCount(): number {
    return this.#unacked.length;
  }

  /** True in confirm mode. */
  get confirmMode(): boolean {
    return this.#confirm;
  }

  /** basic.qos global=false: the prefetch consumers created from now on get (0: unlimited). */
  get consumerPrefetch(): number {
    return this.#consumerPrefetch;
  }

  /** basic.qos global=true: the limit on unacked deliveries across the channel (0: none). */
  get channelPrefetch(): number {
    return this.#channelPrefetch;
  }

  /** True after tx.select. */
  get transactional(): boolean {
    return this.#tx;
  }

  /** In a transaction: publishes and settled deliveries waiting for tx.commit. */
  get uncommitted(): { messages: number; acks: number } {
    let acks = 0;
    for (const s of this.#txSettles) acks += s.deliveries.length;
    return { messages: this.#txPublishes.length, acks };
  }

  /** Publishes whose confirm is held back until the store's sync covers them. */
  get unconfirmedCount(): number {
    return this.#heldConfirms.length;
  }

  // ---------------------------------------------------------------- frames

  /** A method frame for this channel. Errors are thrown to the connection. */
  onMethod(m: AnyMethod): void {
    if (this.#publish !== null) throw this.#unexpectedDuringContent();
    if (this.#state !== "open") return this.#onMethodWhileClosing(m);
    try {
      this.#dispatch(m);
    } catch (err) {
      if (err instanceof AmqpError) err.forMethod(m.id >>> 16, m.id & 0xffff);
      throw err;
    }
  }

  /**
   * After we sent channel.close, methods and whole messages are discarded until close-ok, but
   * framing is still checked, as RabbitMQ does. A client channel.close gets its close-ok and the
   * channel keeps waiting for ours to be acknowledged.
   */
  #onMethodWhileClosing(m: AnyMethod): void {
    switch (m.id) {
      case METHOD.CHANNEL_CLOSE_OK:
        return this.#finish();
      case METHOD.CHANNEL_CLOSE:
        this.#conn.sendMethod(this.id, { id: METHOD.CHANNEL_CLOSE_OK });
        return;
      case METHOD.CHANNEL_OPEN:
        throw new AmqpError("CHANNEL_ERROR", "second 'channel.open' seen").forMethod(CLASS.CHANNEL, 10);
      case METHOD.BASIC_PUBLISH:
        this.#publish = m; // its content is read and dropped
        return;
    }
  }

  /** The 505 for a frame that breaks publish → header → body. */
  #unexpectedDuringContent(): AmqpError {
    return new AmqpError(
      "UNEXPECTED_FRAME",
      this.#properties === null
        ? `expected content header for class ${CLASS.BASIC}, got non content header frame instead`
        : "expected content body, got non content body frame instead",
    ).forMethod(CLASS.BASIC, 40);
  }

  /** A content header frame. */
  onHeader(payload: Uint8Array): void {
    if (this.#publish === null) {
      throw new AmqpError("UNEXPECTED_FRAME", "expected method frame, got non method frame instead");
    }
    if (this.#properties !== null) throw this.#unexpectedDuringContent();
    if (payload.length < 14) throw this.#unexpectedDuringContent();
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const classId = view.getUint16(0);
    // A non-zero weight means this is not a content header (RabbitMQ reads it the same way).
    if (view.getUint16(2) !== 0) throw this.#unexpectedDuringContent();
    if (classId !== CLASS.BASIC) {
      throw new AmqpError(
        "UNEXPECTED_FRAME",
        `expected content header for class ${CLASS.BASIC}, got one for class ${classId} instead`,
      ).forMethod(CLASS.BASIC, 40);
    }
    const size = view.getUint32(4) * 4294967296 + view.getUint32(8);
    const max = this.#conn.broker.config.maxMessageSize;
    if (size > max) {
      this.#publish = null;
      throw preconditionFailed(`message size ${size} is larger than configured max size ${max}`)
        .forMethod(CLASS.BASIC, 40);
    }
    const properties = payload.subarray(12);
    // Checked here, without allocating, so a consumer never receives properties it cannot parse.
    const problem = propertiesProblem(properties);
    if (problem !== null) {
      throw new AmqpError("SYNTAX_ERROR", `invalid content header properties: ${problem}`).forMethod(
        CLASS.BASIC,
        40,
      );
    }
    // Copied: properties outlive the received chunk.
    this.#properties = properties.length === 2 && properties[0] === 0 && properties[1] === 0
      ? NO_PROPERTIES
      : properties.slice();
    this.#bodySize = size;
    this.#bodyReceived = 0;
    if (size === 0) this.#completePublish(new Uint8Array(0));
  }

  /** A content body frame. */
  onBody(payload: Uint8Array): void {
    if (this.#publish === null) {
      throw new AmqpError("UNEXPECTED_FRAME", "expected method frame, got non method frame instead");
    }
    if (this.#properties === null) throw this.#unexpectedDuringContent();
    const received = this.#bodyReceived + payload.length;
    if (received > this.#bodySize) {
      // RabbitMQ lets the channel wait forever for a body that never fits; an error is kinder.
      throw new AmqpError(
        "FRAME_ERROR",
        `content body of ${received} bytes exceeds the ${this.#bodySize} bytes declared in the content header`,
      ).forMethod(CLASS.BASIC, 40);
    }
    if (this.#bodyReceived === 0 && received === this.#bodySize) {
      // The common case: the whole body in one frame. One copy, out of the socket chunk.
      this.#completePublish(payload.slice());
      return;
    }
    if (this.#body === null) this.#body = new Uint8Array(this.#bodySize);
    this.#body.set(payload, this.#bodyReceived);
    this.#bodyReceived = received;
    if (received === this.#bodySize) {
      const body = this.#body;
      this.#body = null;
      this.#completePublish(body);
    }
  }

  // ---------------------------------------------------------------- methods

  #dispatch(m: AnyMethod): void {
    const conn = this.#conn;
    const vhost = this.#vhost;
    switch (m.id) {
      case METHOD.BASIC_PUBLISH:
        this.#publish = m; // checked when its content is complete, as RabbitMQ does
        return;
      case METHOD.BASIC_ACK:
        return this.#settle(m.deliveryTag, m.multiple, "ack", false);
      case METHOD.BASIC_NACK:
        return this.#settle(m.deliveryTag, m.multiple, "nack", m.requeue);
      case METHOD.BASIC_REJECT:
        return this.#settle(m.deliveryTag, false, "reject", m.requeue);
      case METHOD.BASIC_CONSUME:
        return this.#consume(m.queue, m.consumerTag, m.noAck, m.exclusive, m.nowait, m.arguments);
      case METHOD.BASIC_CANCEL:
        return this.#cancel(m.consumerTag, m.nowait);
      case METHOD.BASIC_GET:
        return this.#get(m.queue, m.noAck);
      case METHOD.BASIC_QOS:
        if (m.prefetchSize !== 0) {
          throw new AmqpError("NOT_IMPLEMENTED", `prefetch_size!=0 (${m.prefetchSize})`);
        }
        if (m.global) this.#channelPrefetch = m.prefetchCount;
        else this.#consumerPrefetch = m.prefetchCount;
        conn.sendMethod(this.id, { id: METHOD.BASIC_QOS_OK });
        this.resume();
        return;
      case METHOD.BASIC_RECOVER:
      case METHOD.BASIC_RECOVER_ASYNC:
        if (m.requeue) {
          const all = this.#unacked.drain();
          for (const d of all) if (d.consumer !== null) d.consumer.unacked--;
          untrack(all);
          this.#requeue(all);
        } else this.#redeliverInPlace(this.#unacked.drain());
        if (m.id === METHOD.BASIC_RECOVER) conn.sendMethod(this.id, { id: METHOD.BASIC_RECOVER_OK });
        return;

      case METHOD.QUEUE_DECLARE: {
        const name = m.queue === "" ? randomName("amq.gen-") : m.queue;
        // RabbitMQ's order: reserved name (left to the vhost), configure, then, for a new queue
        // with a dead-letter exchange, read on the queue and write on that exchange.
        if (!m.passive && (m.queue === "" || !m.queue.startsWith("amq."))) {
          this.#access.check("configure", "queue", name);
          const dlx = m.arguments["x-dead-letter-exchange"];
          if (typeof dlx === "string" && !vhost.queues.has(name)) {
            this.#access.check("read", "queue", name);
            this.#access.check("write", "exchange", dlx);
          }
        }
        const q = vhost.declareQueue({
          name,
          serverNamed: m.queue === "",
          passive: m.passive,
          durable: m.durable,
          exclusive: m.exclusive,
          autoDelete: m.autoDelete,
          args: m.arguments,
          owner: conn,
        });
        if (q.options.owner === conn) conn.exclusiveQueues.add(q);
        this.#lastQueue = q.name;
        if (!m.nowait) {
          conn.sendMethod(this.id, {
            id: METHOD.QUEUE_DECLARE_OK,
            queue: q.name,
            messageCount: q.messageCount,
            consumerCount: q.consumerCount,
          });
        }
        return;
      }
      case METHOD.QUEUE_BIND: {
        const name = this.#queueName(m.queue);
        const key = m.routingKey === "" && m.queue === "" ? name : m.routingKey;
        this.#checkBind("queue", name, m.exchange);
        vhost.bindQueue(name, conn, m.exchange, key, m.arguments);
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.QUEUE_BIND_OK });
        return;
      }
      case METHOD.QUEUE_UNBIND:
        this.#checkBind("queue", this.#queueName(m.queue), m.exchange);
        vhost.unbindQueue(this.#queueName(m.queue), conn, m.exchange, m.routingKey, m.arguments);
        conn.sendMethod(this.id, { id: METHOD.QUEUE_UNBIND_OK });
        return;
      case METHOD.QUEUE_PURGE: {
        this.#access.check("read", "queue", this.#queueName(m.queue));
        const n = vhost.queueFor(this.#queueName(m.queue), conn).purge();
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.QUEUE_PURGE_OK, messageCount: n });
        return;
      }
      case METHOD.QUEUE_DELETE: {
        const name = this.#queueName(m.queue);
        this.#access.check("configure", "queue", name);
        const q = vhost.queues.get(name);
        const n = vhost.deleteQueue(name, conn, m.ifUnused, m.ifEmpty);
        if (q) conn.exclusiveQueues.delete(q);
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.QUEUE_DELETE_OK, messageCount: n });
        return;
      }

      case METHOD.EXCHANGE_DECLARE:
        // RabbitMQ's order: unknown type and the default exchange (both left to the vhost),
        // configure, then, for a new exchange with an alternate exchange, read on it and write
        // on the alternate.
        if (!m.passive && m.exchange !== "" && conn.broker.exchangeType(m.type) !== undefined) {
          this.#access.check("configure", "exchange", m.exchange);
          const ae = m.arguments["alternate-exchange"];
          if (typeof ae === "string" && !vhost.exchanges.has(m.exchange) && !m.exchange.startsWith("amq.")) {
            this.#access.check("read", "exchange", m.exchange);
            this.#access.check("write", "exchange", ae);
          }
        }
        vhost.declareExchange({
          name: m.exchange,
          type: m.type,
          passive: m.passive,
          durable: m.durable,
          autoDelete: m.autoDelete,
          internal: m.internal,
          args: m.arguments,
        });
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.EXCHANGE_DECLARE_OK });
        return;
      case METHOD.EXCHANGE_DELETE:
        // The default and amq.* exchanges are refused first, by the vhost.
        if (m.exchange !== "" && !m.exchange.startsWith("amq.")) {
          this.#access.check("configure", "exchange", m.exchange);
        }
        vhost.deleteExchange(m.exchange, m.ifUnused);
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.EXCHANGE_DELETE_OK });
        return;
      case METHOD.EXCHANGE_BIND:
        this.#checkBind("exchange", m.destination, m.source);
        vhost.bindExchange(m.destination, m.source, m.routingKey, m.arguments);
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.EXCHANGE_BIND_OK });
        return;
      case METHOD.EXCHANGE_UNBIND:
        this.#checkBind("exchange", m.destination, m.source);
        vhost.unbindExchange(m.destination, m.source, m.routingKey, m.arguments);
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.EXCHANGE_UNBIND_OK });
        return;

      case METHOD.CONFIRM_SELECT:
        if (this.#tx) throw preconditionFailed("cannot switch from tx to confirm mode");
        this.#confirm = true;
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.CONFIRM_SELECT_OK });
        return;
      case METHOD.TX_SELECT:
        if (this.#confirm) throw preconditionFailed("cannot switch from confirm to tx mode");
        this.#tx = true;
        conn.sendMethod(this.id, { id: METHOD.TX_SELECT_OK });
        return;
      case METHOD.TX_COMMIT:
        if (!this.#tx) throw preconditionFailed("channel is not transactional");
        if (this.#commit() && conn.broker.store !== null) {
          // Persistent messages in durable queues are on disk before commit-ok.
          conn.broker.store.afterSync(() => {
            if (this.#state === "open") conn.sendMethod(this.id, { id: METHOD.TX_COMMIT_OK });
          });
        } else conn.sendMethod(this.id, { id: METHOD.TX_COMMIT_OK });
        return;
      case METHOD.TX_ROLLBACK:
        if (!this.#tx) throw preconditionFailed("channel is not transactional");
        this.#rollback();
        conn.sendMethod(this.id, { id: METHOD.TX_ROLLBACK_OK });
        return;

      case METHOD.CHANNEL_OPEN:
        if (this.#opened) throw new AmqpError("CHANNEL_ERROR", "second 'channel.open' seen");
        this.#opened = true;
        conn.sendMethod(this.id, { id: METHOD.CHANNEL_OPEN_OK, channelId: "" });
        return;
      case METHOD.CHANNEL_FLOW:
        this.#active = m.active;
        conn.sendMethod(this.id, { id: METHOD.CHANNEL_FLOW_OK, active: m.active });
        if (m.active) this.resume();
        return;
      case METHOD.CHANNEL_CLOSE:
        this.release();
        conn.sendMethod(this.id, { id: METHOD.CHANNEL_CLOSE_OK });
        conn.removeChannel(this.id);
        return;
      case METHOD.CHANNEL_CLOSE_OK:
        return; // we did not send channel.close; nothing waits for this
      case METHOD.ACCESS_REQUEST:
        conn.sendMethod(this.id, { id: METHOD.ACCESS_REQUEST_OK, ticket: 1 });
        return;
    }
    // Server-to-client methods, connection methods on a channel, channel.flow-ok: as RabbitMQ.
    throw new AmqpError("COMMAND_INVALID", "unimplemented method");
  }

  /**
   * Permissions of a bind or unbind, in RabbitMQ's order: write on the destination, then (unless
   * an end is the default exchange, which the vhost refuses) read on the source exchange.
   */
  #checkBind(kind: "queue" | "exchange", destination: string, source: string): void {
    this.#access.check("write", kind, destination);
    if (source !== "" && (kind === "queue" || destination !== "")) {
      this.#access.check("read", "exchange", source);
    }
  }

  /** Resolves the empty-name shortcut to the last queue declared on this channel. */
  #queueName(name: string): string {
    if (name !== "") return name;
    if (this.#lastQueue === "") throw new AmqpError("NOT_FOUND", "no previously declared queue");
    return this.#lastQueue;
  }

  // ---------------------------------------------------------------- publish

  /** A publish whose content is complete. Every error it raises names basic.publish (60.40). */
  #completePublish(body: Uint8Array): void {
    const m = this.#publish!;
    const conn = this.#conn;
    conn.hasPublished = true;
    if (conn.broker.alarms.size !== 0) conn.block(conn.broker.alarmReason());
    const properties = this.#properties!;
    this.#publish = null;
    this.#properties = null;
    if (this.#state !== "open") return; // content of a publish sent after our channel.close
    try {
      this.#publishMessage(m, new Message(m.exchange, m.routingKey, properties, body));
    } catch (err) {
      if (err instanceof AmqpError) err.forMethod(CLASS.BASIC, 40);
      throw err;
    }
  }

  #publishMessage(m: BasicPublish, message: Message): void {
    if (m.immediate) throw new AmqpError("NOT_IMPLEMENTED", "immediate=true");
    const vhost = this.#vhost;
    const exchange = vhost.exchanges.get(m.exchange);
    this.#access.check("write", "exchange", m.exchange); // cached: no regex per message
    if (exchange === undefined) throw notFound("exchange", m.exchange, vhost.name);
    if (exchange.options.internal) {
      throw accessRefused(`cannot publish to internal exchange '${m.exchange}' in vhost '${vhost.name}'`);
    }
    const properties = message.rawProperties;
    // user-id (property flag bit 4) must name the user who logged in, unless it is an impersonator.
    if ((properties[1] & 0x10) !== 0) {
      const claimed = message.properties.userId!;
      const user = this.#conn.user!;
      if (claimed !== user.name && !user.tags.includes("impersonator")) {
        throw preconditionFailed(
          `user_id property set to '${claimed}' but authenticated user was '${user.name}'`,
        );
      }
    }
    if (hasReplyTo(properties) && message.properties.replyTo === REPLY_TO) {
      // A request expecting a direct reply: its reply-to names this channel's reply consumer.
      if (this.#replies === null) throw preconditionFailed("fast reply consumer does not exist");
      message = withReplyTo(message, `${REPLY_TO}.${this.#replies.token}`);
    }
    if (hasExpiration(properties)) message.ttl = parseExpiration(message.properties.expiration!);
    if (this.#tx) {
      this.#txPublishes.push({ exchange, message, mandatory: m.mandatory });
      return;
    }
    if (m.exchange === "" && m.routingKey.startsWith(REPLY_TO_PREFIX)) {
      // A direct reply: handed to the requesting channel, or returned/dropped if it is gone.
      const target = this.#conn.broker.replyTargets.get(m.routingKey.slice(REPLY_TO_PREFIX.length));
      if (!target?.deliverReply(message) && m.mandatory) {
        this.#conn.sendReturn(this.id, 312, "NO_ROUTE", message);
      }
      return this.#confirmPublish(true);
    }
    const accepted = this.#route(exchange, message, m.mandatory);
    this.#confirmPublish(accepted, this.#routedJournaled);
  }

  /**
   * Confirm mode: acks the publish, or nacks it when a queue refused it (x-overflow
   * reject-publish). A publish that reached a durable queue's journal is confirmed after the
   * store's next sync; confirms after it wait their turn.
   */
  #confirmPublish(accepted: boolean, durable = false): void {
    if (!this.#confirm) return;
    const deliveryTag = ++this.#publishSeq;
    if (accepted) {
      // Counted when decided, not when sent: a held confirm goes out after the store's sync.
      this.#conn.broker.stats.confirm++;
      this.stats.confirm++;
    }
    if (!durable && this.#heldConfirms.length === 0) return this.#sendConfirm(deliveryTag, accepted, false);
    this.#heldConfirms.push(accepted ? deliveryTag : -deliveryTag);
    if (durable) {
      this.#lastDurableTag = deliveryTag;
      this.#requestSync();
    }
  }

  #sendConfirm(deliveryTag: number, accepted: boolean, multiple: boolean): void {
    this.#conn.sendMethod(
      this.id,
      accepted
        ? { id: METHOD.BASIC_ACK, deliveryTag, multiple }
        : { id: METHOD.BASIC_NACK, deliveryTag, multiple: false, requeue: false },
    );
  }

  /** Asks the store for a sync covering every publish so far; held confirms go when it is done. */
  #requestSync(): void {
    if (this.#syncRequested) return;
    const store = this.#conn.broker.store;
    if (store === null) return;
    this.#syncRequested = true;
    const covers = this.#publishSeq;
    store.afterSync(() => {
      this.#syncRequested = false;
      if (this.#state !== "open") return;
      this.#releaseConfirms(covers);
      if (this.#lastDurableTag > covers) this.#requestSync();
    });
  }

  /**
   * Sends the held confirms the sync covered, and the ones after them that wait for nothing but
   * their turn; a run of acks goes as one `multiple` ack.
   */
  #releaseConfirms(covers: number): void {
    const held = this.#heldConfirms;
    const limit = this.#lastDurableTag > covers ? covers : Infinity;
    let ackRun = 0;
    let lastAck = 0;
    while (held.length > 0 && Math.abs(held.peek()!) <= limit) {
      const entry = held.shift()!;
      if (entry > 0) {
        ackRun++;
        lastAck = entry;
        continue;
      }
      if (ackRun > 0) this.#sendConfirm(lastAck, true, ackRun > 1);
      ackRun = 0;
      this.#sendConfirm(-entry, false, false);
    }
    if (ackRun > 0) this.#sendConfirm(lastAck, true, ackRun > 1);
  }

  /**
   * Routes a message and enqueues it; an unroutable mandatory message is returned (312).
   * Headers are decoded only for messages that carry them (headers exchange, CC/BCC).
   */
  #route(exchange: Exchange, message: Message, mandatory: boolean): boolean {
    let keys: string | string[] = message.routingKey;
    let headers: FieldTable | undefined;
    if (hasHeaders(message.rawProperties)) {
      const selected = senderSelected(message);
      keys = selected.keys;
      headers = selected.headers;
      message = selected.message;
    }
    const queues = this.#vhost.route(exchange, keys, headers);
    const held = this.#vhost.holdDelayed(message, keys);
    this.#conn.broker.stats.publish++;
    this.stats.publish++;
    const n = queues.length;
    // A delayed message kept in the store counts as journaled: its confirm waits for the sync.
    this.#routedJournaled = held > 0 && message.journaled;
    if (n === 0) {
      if (mandatory && held === 0) this.#conn.sendReturn(this.id, 312, "NO_ROUTE", message);
      if (held === 0) {
        const field = mandatory ? "returnUnroutable" : "dropUnroutable";
        this.#conn.broker.stats[field]++;
        this.stats[field]++;
      }
      return true;
    }
    const backlog = this.#conn.broker.config.flowBacklog;
    let contended = false;
    let accepted = true;
    for (let i = 0; i < n; i++) {
      const q = queues[i];
      if (!q.enqueue(message)) accepted = false;
      if (q.messageCount > backlog && q.consumerCount > 0) contended = true;
    }
    if (contended) this.#conn.publishedUnderContention();
    this.#routedJournaled = message.journaled;
    return accepted;
  }

  /**
   * tx.commit: the transaction's publishes, then its settlements, in the order they came.
   * Returns true when a publish went into a durable queue's journal (commit-ok waits for disk).
   */
  #commit(): boolean {
    const publishes = this.#txPublishes;
    const settles = this.#txSettles;
    this.#txPublishes = [];
    this.#txSettles = [];
    let journaled = false;
    for (const p of publishes) {
      // An exchange deleted since the publish routes nowhere.
      if (this.#vhost.exchanges.get(p.exchange.name) === p.exchange) {
        this.#route(p.exchange, p.message, p.mandatory);
        journaled ||= this.#routedJournaled;
      } else if (p.mandatory) this.#conn.sendReturn(this.id, 312, "NO_ROUTE", p.message);
    }
    for (const s of settles) this.#applySettle(s.deliveries, s.outcome);
    return journaled;
  }

  /** tx.rollback: publishes are dropped; settled deliveries become unacked again. */
  #rollback(): void {
    this.#txPublishes = [];
    if (this.#txSettles.length === 0) return;
    const all = this.#unacked.drain();
    for (const s of this.#txSettles) all.push(...s.deliveries);
    this.#txSettles = [];
    all.sort((a, b) => a.tag - b.tag);
    for (const d of all) this.#unacked.push(d);
  }

  // ---------------------------------------------------------------- consume and deliver

  #consume(
    queueName: string,
    tag: string,
    noAck: boolean,
    exclusive: boolean,
    nowait: boolean,
    args: Consumer["options"]["args"],
  ): void {
    const conn = this.#conn;
    if (queueName === REPLY_TO) return this.#consumeReplies(tag, noAck, nowait);
    this.#access.check("read", "queue", this.#queueName(queueName));
    const q = this.#vhost.queueFor(this.#queueName(queueName), conn);
    if (tag === "") tag = randomName("amq.ctag-");
    if (this.#consumers.has(tag)) {
      throw new AmqpError("NOT_ALLOWED", `attempt to reuse consumer tag '${tag}'`);
    }
    if (q.hasExclusiveConsumer || (exclusive && q.consumerCount > 0)) {
      throw accessRefused(`queue '${q.name}' in vhost '${q.vhost}' in exclusive use`);
    }
    const c = new Consumer(tag, q, this, { noAck, exclusive, prefetch: this.#consumerPrefetch, args });
    this.#consumers.set(tag, c);
    // consume-ok goes out before the first delivery.
    if (!nowait) conn.sendMethod(this.id, { id: METHOD.BASIC_CONSUME_OK, consumerTag: tag });
    q.addConsumer(c);
  }

  /**
   * basic.consume from the pseudo-queue `amq.rabbitmq.reply-to` (direct reply-to): replies to
   * requests this channel publishes with that reply-to come straight here, without a queue.
   */
  #consumeReplies(tag: string, noAck: boolean, nowait: boolean): void {
    if (!noAck) throw preconditionFailed("reply consumer cannot acknowledge");
    if (this.#replies !== null) throw preconditionFailed("reply consumer already set");
    if (tag === "") tag = randomName("amq.ctag-");
    if (this.#consumers.has(tag)) {
      throw new AmqpError("NOT_ALLOWED", `attempt to reuse consumer tag '${tag}'`);
    }
    const token = randomName("");
    this.#replies = { tag, token };
    this.#conn.broker.replyTargets.set(token, this);
    if (!nowait) this.#conn.sendMethod(this.id, { id: METHOD.BASIC_CONSUME_OK, consumerTag: tag });
  }

  /** Direct reply-to: a reply for this channel's reply consumer. False if there is none now. */
  deliverReply(message: Message): boolean {
    const replies = this.#replies;
    if (replies === null || this.#state !== "open") return false;
    this.#conn.sendDeliver(this.id, replies.tag, this.#nextTag++, false, message);
    return true;
  }

  #stopReplies(): void {
    if (this.#replies === null) return;
    this.#conn.broker.replyTargets.delete(this.#replies.token);
    this.#replies = null;
  }

  #cancel(tag: string, nowait: boolean): void {
    if (this.#replies !== null && this.#replies.tag === tag) this.#stopReplies();
    const c = this.#consumers.get(tag);
    if (c) {
      this.#consumers.delete(tag);
      this.#detach(c);
    }
    if (!nowait) this.#conn.sendMethod(this.id, { id: METHOD.BASIC_CANCEL_OK, consumerTag: tag });
  }

  /** Removes a consumer from its queue; an auto-delete queue goes with its last consumer. */
  #detach(c: Consumer): void {
    const q = c.queue;
    q.removeConsumer(c);
    if (q.options.autoDelete && q.consumerCount === 0 && !q.deleted) {
      this.#vhost.removeQueue(q);
      this.#conn.exclusiveQueues.delete(q);
    }
  }

  #get(queueName: string, noAck: boolean): void {
    this.#access.check("read", "queue", this.#queueName(queueName));
    const q = this.#vhost.queueFor(this.#queueName(queueName), this.#conn);
    q.touch();
    const d = q.take();
    if (d === undefined) {
      countGet(this.#conn.broker.stats, q.stats, this.stats, noAck, null);
      this.#conn.sendMethod(this.id, { id: METHOD.BASIC_GET_EMPTY, clusterId: "" });
      return;
    }
    const tag = this.#nextTag++;
    if (!noAck) {
      d.tag = tag;
      q.markDelivered(d);
      q.unackedCount++;
      q.unackedBytes += d.message.body.length;
      this.#unacked.push(d);
    } else q.settled(d);
    countGet(this.#conn.broker.stats, q.stats, this.stats, noAck, d.redelivered);
    this.#conn.sendGetOk(this.id, tag, d.redelivered, d.message, q.messageCount);
  }

  /** ConsumerChannel: may this consumer take one more message now? */
  canDeliver(c: Consumer): boolean {
    return this.#state === "open" && this.#active && !this.#conn.congested && c.hasCredit &&
      (this.#channelPrefetch === 0 || c.options.noAck || this.#unacked.length < this.#channelPrefetch);
  }

  /** ConsumerChannel: sends one delivery. */
  deliver(c: Consumer, d: Delivery): void {
    const tag = this.#nextTag++;
    if (!c.options.noAck) {
      d.tag = tag;
      d.consumer = c;
      d.deliveredAt = this.#conn.broker.now;
      c.unacked++;
      d.queue.unackedCount++;
      d.queue.unackedBytes += d.message.body.length;
      if (d.location >= 0) d.queue.markDelivered(d);
      this.#unacked.push(d);
    } else if (d.location >= 0 || d.queue.hooks.length !== 0) d.queue.settled(d);
    countDelivery(this.#conn.broker.stats, d.queue.stats, this.stats, c.options.noAck, d.redelivered);
    this.#conn.sendDeliver(this.id, c.tag, tag, d.redelivered, d.message);
  }

  /**
   * Timers: `x-consumer-timeout`. A consumer holding a delivery unacknowledged for longer than
   * its queue's timeout is cancelled (basic.cancel, its unacked messages requeued as redelivered);
   * the channel and its other consumers carry on — RabbitMQ closes the whole channel instead.
   * Checked at most once a second: the timeout is meant for consumers stuck for minutes.
   */
  tick(now: number): void {
    if (this.#state !== "open" || now - this.#lastTimeoutCheck < 1000) return;
    this.#lastTimeoutCheck = now;
    let late: Set<Consumer> | null = null;
    const list = this.#unacked;
    for (let i = 0; i < list.length; i++) {
      const d = list.at(i)!;
      const c = d.consumer;
      if (c === null || c.queue.consumerTimeout === Infinity) continue;
      if (now - d.deliveredAt > c.queue.consumerTimeout && this.#consumers.get(c.tag) === c) {
        (late ??= new Set()).add(c);
      }
    }
    if (late === null) return;
    for (const c of late) {
      this.#conn.broker.log.warn("consumer timed out: cancelled", {
        connection: this.#conn.name,
        channel: this.id,
        consumer: c.tag,
        queue: c.queue.name,
        timeout: c.queue.consumerTimeout,
      });
      this.#consumers.delete(c.tag);
      this.#detach(c);
      if (this.#conn.capabilities.consumerCancelNotify) {
        this.#conn.sendMethod(this.id, { id: METHOD.BASIC_CANCEL, consumerTag: c.tag, nowait: true });
      }
      const back: Delivery[] = [];
      for (let i = 0; i < list.length;) {
        const d = list.at(i)!;
        if (d.consumer === c) {
          list.removeAt(i);
          back.push(d);
        } else i++;
      }
      c.unacked = 0;
      untrack(back);
      this.#requeue(back);
    }
  }

  /** ConsumerChannel: the queue was deleted under the consumer. */
  cancelledByBroker(c: Consumer): void {
    if (this.#consumers.get(c.tag) !== c) return;
    this.#consumers.delete(c.tag);
    if (this.#state === "open" && this.#conn.capabilities.consumerCancelNotify) {
      this.#conn.sendMethod(this.id, { id: METHOD.BASIC_CANCEL, consumerTag: c.tag, nowait: true });
    }
  }

  /** Gives every consumer's queue a chance to deliver (credit, flow or socket became free). */
  resume(): void {
    for (const c of this.#consumers.values()) c.queue.drain();
  }

  // ---------------------------------------------------------------- ack / nack / reject

  #settle(tag: number, multiple: boolean, kind: "ack" | "nack" | "reject", requeue: boolean): void {
    const list = this.#unacked;
    const outcome: Outcome = kind === "ack" ? "ack" : requeue ? "requeue" : "reject";
    if (multiple && tag === 0) return this.#settled(list.drain(), outcome);
    const idx = this.#indexOfTag(tag);
    if (idx < 0) throw preconditionFailed(`unknown delivery tag ${tag}`);
    if (!multiple && !this.#tx) {
      // Hot path: one ack. Only its queue (or all, under a channel-wide limit) can move on.
      const d = list.removeAt(idx)!;
      if (outcome === "ack") countAck(this.#conn.broker.stats, d.queue.stats, this.stats);
      if (d.consumer !== null) d.consumer.unacked--;
      d.queue.unackedCount--;
      d.queue.unackedBytes -= d.message.body.length;
      if (outcome === "requeue") d.queue.requeue([d]);
      else {
        if (outcome === "reject") d.queue.deadLetter(d.message, "rejected");
        if (d.location >= 0 || d.queue.hooks.length !== 0) d.queue.settled(d);
      }
      if (this.#channelPrefetch !== 0) this.resume();
      else d.queue.drain();
      return;
    }
    const settled: Delivery[] = new Array(multiple ? idx + 1 : 1);
    if (multiple) { for (let i = 0; i <= idx; i++) settled[i] = list.shift()!; }
    else settled[0] = list.removeAt(idx)!;
    this.#settled(settled, outcome);
  }

  /** Settled deliveries: held until commit in a transaction, applied at once otherwise. */
  #settled(deliveries: Delivery[], outcome: Outcome): void {
    if (this.#tx) this.#txSettles.push({ deliveries, outcome });
    else this.#applySettle(deliveries, outcome);
  }

  #applySettle(deliveries: Delivery[], outcome: Outcome): void {
    if (outcome === "ack") {
      for (const d of deliveries) countAck(this.#conn.broker.stats, d.queue.stats, this.stats);
    }
    for (let i = 0; i < deliveries.length; i++) {
      const d = deliveries[i];
      if (d.consumer !== null) d.consumer.unacked--;
      d.queue.unackedCount--;
      d.queue.unackedBytes -= d.message.body.length;
    }
    if (outcome === "requeue") return this.#requeue(deliveries);
    if (outcome === "reject") {
      // Rejected without requeue: dead-lettered (reason `rejected`) if the queue has a DLX.
      for (const d of deliveries) d.queue.deadLetter(d.message, "rejected");
    }
    for (let i = 0; i < deliveries.length; i++) {
      const d = deliveries[i];
      if (d.location >= 0 || d.queue.hooks.length !== 0) d.queue.settled(d);
    }
    this.resume();
  }

  /**
   * basic.recover requeue=false (which RabbitMQ does not implement): each unacked message goes
   * again, marked redelivered and with a new tag, to the consumer that had it, as the spec says.
   * Messages fetched with basic.get, or whose consumer is gone, go back to their queue.
   */
  #redeliverInPlace(deliveries: Delivery[]): void {
    untrack(deliveries); // deliver() counts those redelivered again
    const back: Delivery[] = [];
    for (const d of deliveries) {
      const c = d.consumer;
      if (c === null || this.#consumers.get(c.tag) !== c) {
        back.push(d);
        continue;
      }
      c.unacked--; // deliver() counts it again
      d.redelivered = true;
      this.deliver(c, d);
    }
    this.#requeue(back);
  }

  /** Binary search: unacked deliveries are in ascending tag order. */
  #indexOfTag(tag: number): number {
    const list = this.#unacked;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const t = list.at(mid)!.tag;
      if (t === tag) return mid;
      if (t < tag) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Returns deliveries to their queues, each queue keeping the original order. */
  #requeue(deliveries: Delivery[]): void {
    if (deliveries.length === 0) return;
    const byQueue = new Map<Queue, Delivery[]>();
    for (const d of deliveries) {
      let list = byQueue.get(d.queue);
      if (!list) byQueue.set(d.queue, list = []);
      list.push(d);
    }
    for (const [q, list] of byQueue) q.requeue(list);
  }

  // ---------------------------------------------------------------- closing

  /** Sends channel.close for a soft error and releases everything the channel held. */
  closeWithError(e: AmqpError): void {
    if (this.#state !== "open") return;
    this.release();
    this.#state = "closing";
    this.#conn.sendMethod(this.id, {
      id: METHOD.CHANNEL_CLOSE,
      replyCode: e.code,
      replyText: e.replyText,
      classId: e.classId,
      methodId: e.methodId,
    });
  }

  /** Cancels consumers and requeues unacked deliveries (channel or connection closing). */
  release(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#publish = null;
    this.#properties = null;
    this.#body = null;
    this.#stopReplies();
    for (const c of this.#consumers.values()) this.#detach(c);
    this.#consumers.clear();
    // Uncommitted settlements never happened: those deliveries go back with the unacked ones.
    const back = this.#unacked.drain();
    for (const s of this.#txSettles) back.push(...s.deliveries);
    this.#txSettles = [];
    this.#txPublishes = [];
    back.sort((a, b) => a.tag - b.tag);
    untrack(back);
    this.#requeue(back);
  }

  #finish(): void {
    this.#state = "closed";
    this.#conn.removeChannel(this.id);
  }
}
