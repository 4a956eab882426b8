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
import { type Delivery, Message } from "../broker/message.ts";
import type { Queue } from "../broker/queue.ts";
import type { VHost } from "../broker/vhost.ts";
import { accessRefused, AmqpError, preconditionFailed } from "../errors.ts";
import { type AnyMethod, type BasicPublish, CLASS, METHOD, METHOD_NAMES } from "../wire/methods.ts";
import type { Connection } from "./connection.ts";

const SHORTSTR_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** `prefix` + 22 random URL-safe characters, like RabbitMQ's `amq.gen-…` and `amq.ctag-…` names. */
function randomName(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(22));
  let s = prefix;
  for (let i = 0; i < bytes.length; i++) s += SHORTSTR_CHARS[bytes[i] & 63];
  return s;
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

  // Publishing.
  #confirm = false;
  #publishSeq = 0;
  /** The queue most recently declared on this channel, for the empty-name shortcut. */
  #lastQueue = "";

  /**
   * @param conn the connection
   * @param id channel number
   */
  constructor(conn: Connection, readonly id: number) {
    this.#conn = conn;
    this.#vhost = conn.vhost!;
  }

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

  // ---------------------------------------------------------------- frames

  /** A method frame for this channel. Errors are thrown to the connection. */
  onMethod(m: AnyMethod): void {
    if (this.#state !== "open") {
      // After we sent channel.close, everything but close / close-ok is discarded.
      if (m.id === METHOD.CHANNEL_CLOSE_OK) this.#finish();
      else if (m.id === METHOD.CHANNEL_CLOSE) {
        this.#conn.sendMethod(this.id, { id: METHOD.CHANNEL_CLOSE_OK });
        this.#finish();
      }
      return;
    }
    if (this.#publish !== null) {
      throw new AmqpError(
        "UNEXPECTED_FRAME",
        `expected content header for class ${CLASS.BASIC}, got non content header frame instead`,
      ).forMethod(m.id >>> 16, m.id & 0xffff);
    }
    try {
      this.#dispatch(m);
    } catch (err) {
      if (err instanceof AmqpError) err.forMethod(m.id >>> 16, m.id & 0xffff);
      throw err;
    }
  }

  /** A content header frame. */
  onHeader(payload: Uint8Array): void {
    if (this.#state !== "open") return;
    const m = this.#publish;
    if (m === null || this.#properties !== null) {
      throw new AmqpError("UNEXPECTED_FRAME", "expected method frame, got non method frame instead");
    }
    if (payload.length < 14) throw new AmqpError("FRAME_ERROR", "content header frame too short");
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const classId = view.getUint16(0);
    if (classId !== CLASS.BASIC) {
      throw new AmqpError(
        "UNEXPECTED_FRAME",
        `expected content header for class ${CLASS.BASIC}, got one for class ${classId} instead`,
      ).forMethod(CLASS.BASIC, 40);
    }
    const hi = view.getUint32(4);
    const size = hi * 4294967296 + view.getUint32(8);
    const max = this.#conn.broker.config.maxMessageSize;
    if (size > max) {
      this.#publish = null;
      throw preconditionFailed(`message size ${size} is larger than configured max size ${max}`)
        .forMethod(CLASS.BASIC, 40);
    }
    // Copied: properties outlive the received chunk.
    this.#properties = payload.slice(12);
    this.#bodySize = size;
    this.#bodyReceived = 0;
    if (size === 0) this.#completePublish(new Uint8Array(0));
  }

  /** A content body frame. */
  onBody(payload: Uint8Array): void {
    if (this.#state !== "open") return;
    if (this.#properties === null) {
      throw new AmqpError(
        "UNEXPECTED_FRAME",
        this.#publish === null
          ? "expected method frame, got non method frame instead"
          : `expected content header for class ${CLASS.BASIC}, got non content header frame instead`,
      );
    }
    const received = this.#bodyReceived + payload.length;
    if (received > this.#bodySize) {
      throw new AmqpError(
        "FRAME_ERROR",
        `content body of ${received} bytes exceeds the ${this.#bodySize} bytes declared in the content header`,
      );
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
        if (m.immediate) throw new AmqpError("NOT_IMPLEMENTED", "immediate=true");
        this.#publish = m;
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
        if (!m.requeue) throw new AmqpError("NOT_IMPLEMENTED", "requeue=false");
        this.#requeue(this.#unacked.drain());
        if (m.id === METHOD.BASIC_RECOVER) conn.sendMethod(this.id, { id: METHOD.BASIC_RECOVER_OK });
        return;

      case METHOD.QUEUE_DECLARE: {
        const q = vhost.declareQueue({
          name: m.queue === "" ? randomName("amq.gen-") : m.queue,
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
        const q = vhost.queueFor(this.#queueName(m.queue), conn);
        const key = m.routingKey === "" && m.queue === "" ? q.name : m.routingKey;
        vhost.bindQueue(q, m.exchange, key, m.arguments);
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.QUEUE_BIND_OK });
        return;
      }
      case METHOD.QUEUE_UNBIND: {
        const q = vhost.queueFor(this.#queueName(m.queue), conn);
        vhost.unbindQueue(q, m.exchange, m.routingKey, m.arguments);
        conn.sendMethod(this.id, { id: METHOD.QUEUE_UNBIND_OK });
        return;
      }
      case METHOD.QUEUE_PURGE: {
        const n = vhost.queueFor(this.#queueName(m.queue), conn).purge();
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.QUEUE_PURGE_OK, messageCount: n });
        return;
      }
      case METHOD.QUEUE_DELETE: {
        const name = this.#queueName(m.queue);
        const q = vhost.queues.get(name);
        const n = vhost.deleteQueue(name, conn, m.ifUnused, m.ifEmpty);
        if (q) conn.exclusiveQueues.delete(q);
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.QUEUE_DELETE_OK, messageCount: n });
        return;
      }

      case METHOD.EXCHANGE_DECLARE:
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
        vhost.deleteExchange(m.exchange, m.ifUnused);
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.EXCHANGE_DELETE_OK });
        return;
      case METHOD.EXCHANGE_BIND:
        vhost.bindExchange(m.destination, m.source, m.routingKey, m.arguments);
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.EXCHANGE_BIND_OK });
        return;
      case METHOD.EXCHANGE_UNBIND:
        vhost.unbindExchange(m.destination, m.source, m.routingKey, m.arguments);
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.EXCHANGE_UNBIND_OK });
        return;

      case METHOD.CONFIRM_SELECT:
        this.#confirm = true;
        if (!m.nowait) conn.sendMethod(this.id, { id: METHOD.CONFIRM_SELECT_OK });
        return;
      case METHOD.TX_SELECT:
      case METHOD.TX_COMMIT:
      case METHOD.TX_ROLLBACK:
        throw new AmqpError("NOT_IMPLEMENTED", `${METHOD_NAMES[m.id]} (transactions are not supported yet)`);

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
      case METHOD.CHANNEL_FLOW_OK:
        return; // we never send channel.flow; nothing waits for this
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
    throw new AmqpError("COMMAND_INVALID", `method ${METHOD_NAMES[m.id]} is not valid on a channel`);
  }

  /** Resolves the empty-name shortcut to the last queue declared on this channel. */
  #queueName(name: string): string {
    if (name !== "") return name;
    if (this.#lastQueue === "") throw new AmqpError("NOT_FOUND", "no previously declared queue");
    return this.#lastQueue;
  }

  // ---------------------------------------------------------------- publish

  #completePublish(body: Uint8Array): void {
    const m = this.#publish!;
    const properties = this.#properties!;
    this.#publish = null;
    this.#properties = null;
    const vhost = this.#vhost;
    const exchange = vhost.exchanges.get(m.exchange);
    if (exchange === undefined) throw notFoundExchange(m.exchange, vhost.name);
    if (exchange.options.internal) {
      throw accessRefused(`cannot publish to internal exchange '${m.exchange}' in vhost '${vhost.name}'`)
        .forMethod(CLASS.BASIC, 40);
    }
    const message = new Message(m.exchange, m.routingKey, properties, body);
    const queues = vhost.route(exchange, m.routingKey, undefined);
    const n = queues.length;
    if (n === 0) {
      if (m.mandatory) this.#conn.sendReturn(this.id, 312, "NO_ROUTE", message);
    } else {
      for (let i = 0; i < n; i++) queues[i].enqueue(message);
    }
    if (this.#confirm) {
      this.#conn.sendMethod(this.id, {
        id: METHOD.BASIC_ACK,
        deliveryTag: ++this.#publishSeq,
        multiple: false,
      });
    }
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

  #cancel(tag: string, nowait: boolean): void {
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
    const q = this.#vhost.queueFor(this.#queueName(queueName), this.#conn);
    const d = q.take();
    if (d === undefined) {
      this.#conn.sendMethod(this.id, { id: METHOD.BASIC_GET_EMPTY, clusterId: "" });
      return;
    }
    const tag = this.#nextTag++;
    if (!noAck) {
      d.tag = tag;
      this.#unacked.push(d);
    }
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
      c.unacked++;
      this.#unacked.push(d);
    }
    this.#conn.sendDeliver(this.id, c.tag, tag, d.redelivered, d.message);
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
    let settled: Delivery[];
    if (multiple && tag === 0) {
      settled = list.drain();
    } else {
      const idx = this.#indexOfTag(tag);
      if (idx < 0) throw preconditionFailed(`unknown delivery tag ${tag}`);
      if (multiple) {
        settled = new Array(idx + 1);
        for (let i = 0; i <= idx; i++) settled[i] = list.shift()!;
      } else {
        const d = list.removeAt(idx)!;
        if (d.consumer !== null) d.consumer.unacked--;
        if (kind !== "ack" && requeue) d.queue.requeue([d]);
        this.#afterSettle(d);
        return;
      }
    }
    for (let i = 0; i < settled.length; i++) {
      const c = settled[i].consumer;
      if (c !== null) c.unacked--;
    }
    if (kind !== "ack" && requeue) this.#requeue(settled);
    else this.resume();
  }

  /** After settling one delivery, only its queue (or all, under a channel-wide limit) can move. */
  #afterSettle(d: Delivery): void {
    if (this.#channelPrefetch !== 0) this.resume();
    else d.queue.drain();
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
    for (const c of this.#consumers.values()) this.#detach(c);
    this.#consumers.clear();
    this.#requeue(this.#unacked.drain());
  }

  #finish(): void {
    this.#state = "closed";
    this.#conn.removeChannel(this.id);
  }
}

function notFoundExchange(name: string, vhost: string): AmqpError {
  return new AmqpError("NOT_FOUND", `no exchange '${name}' in vhost '${vhost}'`).forMethod(CLASS.BASIC, 40);
}
