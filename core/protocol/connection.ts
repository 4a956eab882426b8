/**
 * Connection: the AMQP connection state machine for one client socket.
 *
 * Owns, for its socket: the protocol header check, the handshake (start / start-ok with SASL
 * PLAIN or AMQPLAIN, tune / tune-ok, open), heartbeats both ways, the handshake and close
 * timeouts, connection.close in both directions, the channel table, and the batched output
 * buffer. Frames are decoded in place from the received chunk; output frames are appended to
 * one buffer that is handed to the transport once per turn of the event loop (or as soon as it
 * passes FLUSH_THRESHOLD). Errors from any frame end here: a soft one closes its channel, a
 * hard one (or any on channel 0) closes the connection, with the reply code RabbitMQ uses.
 *
 * @module
 */

import type { Broker } from "../broker/broker.ts";
import type { Message } from "../broker/message.ts";
import type { Queue } from "../broker/queue.ts";
import { addStats } from "../broker/stats.ts";
import type { User } from "../broker/users.ts";
import type { VHost } from "../broker/vhost.ts";
import { AmqpError, erlangBinary, toAmqpError } from "../errors.ts";
import type { Transport } from "../transport.ts";
import { FRAME, FRAME_MIN_SIZE, FRAME_OVERHEAD, PROTOCOL_HEADER } from "../wire/constants.ts";
import type { FieldTable } from "../wire/field_table.ts";
import { FrameDecoder, type FrameHandler } from "../wire/frame_decoder.ts";
import { type AnyMethod, decodeMethod, encodeMethod, METHOD, METHOD_NAMES } from "../wire/methods.ts";
import { Reader } from "../wire/reader.ts";
import { Writer } from "../wire/writer.ts";
import { Channel } from "./channel.ts";

/**
 * Output is flushed at once past this many buffered bytes, else at the end of the turn.
 * 64 KiB: large enough that a burst of small deliveries becomes one socket write, small
 * enough to stay in cache (measured: 32 KiB and 128 KiB were within noise of each other).
 */
const FLUSH_THRESHOLD = 64 * 1024;
/** An output buffer that grew past this (a huge message) is dropped after flushing. */
const MAX_RETAINED_OUTPUT = 1024 * 1024;
/** How long we wait for connection.close-ok after sending connection.close, in ms. */
const CLOSE_OK_TIMEOUT = 3_000;
/** How long a client that closed its connection has to close its socket, in ms. */
const PEER_CLOSE_TIMEOUT = 10_000;
/** Frames handled per received chunk before the rest is decoded anyway; see receive(). */
const VERSION = "0.1.0";

/**
 * `closing`: we sent connection.close and wait for close-ok. `closed-by-peer`: the client closed,
 * we answered close-ok and leave closing the socket to the client (as RabbitMQ does), so frames
 * it still had in flight (amqplib sends a late channel.close-ok) do not draw a TCP reset that
 * would destroy our close-ok before the client reads it.
 */
type State = "header" | "start" | "tune" | "open-wait" | "open" | "closing" | "closed-by-peer" | "closed";

let nextConnectionNumber = 1;

/** Capabilities the client announced in connection.start-ok. */
interface ClientCapabilities {
  authenticationFailureClose: boolean;
  consumerCancelNotify: boolean;
  connectionBlocked: boolean;
}

/** One client connection. */
export class Connection implements FrameHandler {
  /** Unique name for logs and the management API: `ip:port -> n`. */
  readonly name: string;
  #state: State = "header";
  readonly #decoder: FrameDecoder;
  readonly #reader = new Reader();
  #out = new Writer(FLUSH_THRESHOLD * 2);
  #flushScheduled = false;
  readonly #flushTask = () => this.flush();
  readonly #channels = new Map<number, Channel>();
  #headerBytes = new Uint8Array(8);
  #publishBudget = 0;
  #yieldRequested = false;
  #headerLen = 0;

  /** Negotiated limits. */
  frameMax: number;
  channelMax: number;
  heartbeat = 0;
  /** Who logged in, once authenticated. */
  user: User | null = null;
  /** The vhost opened, once open. */
  vhost: VHost | null = null;
  clientProperties: FieldTable = {};
  readonly capabilities: ClientCapabilities = {
    authenticationFailureClose: false,
    consumerCancelNotify: false,
    connectionBlocked: false,
  };
  /** True while the transport's backlog is over its high-water mark: deliveries wait. */
  congested = false;
  /** Set on the first basic.publish: a publishing connection is blocked by resource alarms. */
  hasPublished = false;
  /** Blocked by a resource alarm: its socket is not read until the alarm clears. */
  #blocked = false;
  /** Exclusive queues declared by this connection, deleted with it. */
  readonly exclusiveQueues = new Set<Queue>();
  /**
   * Socket counters, as RabbitMQ reads them from the socket (`inet:getstat`): bytes received
   * and sent, and socket reads and writes (one per chunk received, one per flush). One add per
   * chunk or flush, never per frame.
   */
  recvOct = 0;
  recvCnt = 0;
  sendOct = 0;
  sendCnt = 0;

  readonly #createdAt: number;
  #lastReceived: number;
  #lastSent: number;
  #closeSentAt = 0;

  /**
   * @param broker the kernel
   * @param transport the socket
   */
  constructor(readonly broker: Broker, readonly transport: Transport) {
    this.name = `${transport.remoteAddress}:${transport.remotePort} -> ${nextConnectionNumber++}`;
    this.frameMax = broker.config.frameMax;
    this.channelMax = broker.config.channelMax;
    this.#decoder = new FrameDecoder(this.frameMax);
    this.#publishBudget = broker.config.publishBudget;
    this.#createdAt = this.#lastReceived = this.#lastSent = broker.now;
  }

  /** When the socket was accepted (the broker's clock, ms since the epoch in the server). */
  get connectedAt(): number {
    return this.#createdAt;
  }

  /** Current state (for tests and the management API). */
  get state(): State {
    return this.#state;
  }

  /** Open channels. */
  get channels(): ReadonlyMap<number, Channel> {
    return this.#channels;
  }

  // ---------------------------------------------------------------- input

  /**
   * Feeds bytes received from the socket. Never throws.
   *
   * @returns how many bytes were used. Fewer than `chunk.length` means this connection used up
   *   its publish budget (see `publishedUnderContention`): the transport keeps the rest, stops
   *   reading the socket, lets the event loop serve other sockets, calls `newTurn()` and feeds
   *   the rest again.
   */
  receive(chunk: Uint8Array): number {
    const used = this.#receive(chunk);
    this.recvOct += used;
    // A chunk the publish budget cut short is fed again: one socket read is counted once, when
    // the last of it is used.
    if (used === chunk.length) this.recvCnt++;
    return used;
  }

  #receive(chunk: Uint8Array): number {
    if (this.#state === "closed") return chunk.length;
    this.#lastReceived = this.broker.now;
    try {
      if (this.#state === "header") {
        const rest = this.#protocolHeader(chunk);
        if (rest === null) return chunk.length;
        return chunk.length - rest.length + this.#decoder.push(rest, this);
      }
      return this.#decoder.push(chunk, this);
    } catch (err) {
      this.#fail(err, 0);
      return chunk.length;
    }
  }

  /**
   * Called by a channel for each publish that reached a queue with consumers and a backlog.
   * Past the per-turn budget the connection stops decoding until the next turn, so consumers
   * (whose acks are never budgeted) get their share of the broker: a publisher cannot outrun
   * the consumers of a queue just because its socket always has data. An idle broker turns
   * the event loop fast, so this slows nobody when there is CPU to spare.
   */
  publishedUnderContention(): void {
    if (--this.#publishBudget <= 0) this.#yieldRequested = true;
  }

  /** The transport let other sockets run: the publish budget starts again. */
  newTurn(): void {
    this.#publishBudget = this.broker.config.publishBudget;
    this.#yieldRequested = false;
  }

  /** Reads the 8-byte protocol header; returns the bytes after it, or null if not complete. */
  #protocolHeader(chunk: Uint8Array): Uint8Array | null {
    const take = Math.min(8 - this.#headerLen, chunk.length);
    this.#headerBytes.set(chunk.subarray(0, take), this.#headerLen);
    this.#headerLen += take;
    // A wrong byte fails at once: a client speaking another protocol may never send 8 bytes.
    for (let i = 0; i < this.#headerLen; i++) {
      if (this.#headerBytes[i] !== PROTOCOL_HEADER[i]) {
        this.broker.log.info("refused connection: bad protocol header", { connection: this.name });
        this.sendOct += PROTOCOL_HEADER.length;
        this.sendCnt++;
        this.transport.write(PROTOCOL_HEADER.slice());
        this.#terminate();
        return null;
      }
    }
    if (this.#headerLen < 8) return null;
    this.#headerBytes = new Uint8Array(0);
    this.#sendStart();
    this.#state = "start";
    return chunk.subarray(take);
  }

  /** FrameHandler: one decoded frame. */
  onFrame(type: number, channelId: number, payload: Uint8Array): boolean {
    const state = this.#state;
    if (state === "closed") return false;
    if (state === "closed-by-peer") return true; // late frames after the client's close: dropped
    try {
      if (type === FRAME.METHOD) {
        const m = this.#decode(payload);
        if (channelId === 0) this.#onConnectionMethod(m);
        else if (state === "closing") return true; // discard until close-ok
        else this.#channelFor(channelId, m).onMethod(m);
      } else if (type === FRAME.HEADER || type === FRAME.BODY) {
        if (state === "closing") return true;
        if (channelId === 0 || state !== "open") {
          throw new AmqpError("UNEXPECTED_FRAME", `type ${type}, all octets = ${erlangBinary(payload)}`);
        }
        const ch = this.#channels.get(channelId);
        if (!ch) {
          throw new AmqpError("UNEXPECTED_FRAME", "expected method frame, got non method frame instead");
        }
        if (type === FRAME.HEADER) ch.onHeader(payload);
        else ch.onBody(payload);
      } else if (type === FRAME.HEARTBEAT) {
        if (payload.length !== 0) {
          throw new AmqpError("FRAME_ERROR", `type 8, all octets = ${erlangBinary(payload)}: unknown_frame`);
        }
        if (channelId !== 0) throw new AmqpError("UNEXPECTED_FRAME", "type 8, all octets = <<>>");
      } else {
        throw new AmqpError(
          "FRAME_ERROR",
          `type ${type}, all octets = ${erlangBinary(payload)}: unknown_frame`,
        );
      }
    } catch (err) {
      this.#fail(err, channelId);
    }
    return this.#state !== "closed" && !this.#yieldRequested;
  }

  /** Decodes a method frame, mapping malformed arguments to RabbitMQ's FRAME_ERROR texts. */
  #decode(payload: Uint8Array): AnyMethod {
    if (payload.length < 4) {
      throw new AmqpError("FRAME_ERROR", `type 1, all octets = ${erlangBinary(payload)}: unknown_frame`);
    }
    const r = this.#reader.reset(payload);
    let m: AnyMethod;
    try {
      m = decodeMethod(r);
    } catch (err) {
      if (!(err instanceof AmqpError) || err.reply === "COMMAND_INVALID" || err.reply === "SYNTAX_ERROR") {
        if (err instanceof AmqpError) {
          err.forMethod(payload[0] << 8 | payload[1], payload[2] << 8 | payload[3]);
        }
        throw err;
      }
      throw cannotDecode(payload);
    }
    if (r.remaining !== 0) throw cannotDecode(payload);
    return m;
  }

  #channelFor(id: number, m: AnyMethod): Channel {
    if (this.#state !== "open") {
      throw new AmqpError(
        "COMMAND_INVALID",
        `method ${METHOD_NAMES[m.id]} on channel ${id} before connection.open`,
      )
        .forMethod(m.id >>> 16, m.id & 0xffff);
    }
    const ch = this.#channels.get(id);
    if (ch) return ch;
    if (m.id !== METHOD.CHANNEL_OPEN) {
      throw new AmqpError("CHANNEL_ERROR", "expected 'channel.open'").forMethod(m.id >>> 16, m.id & 0xffff);
    }
    // channel-max limits how many channels are open at once, not their numbers (as RabbitMQ).
    if (this.#channels.size >= this.channelMax) {
      throw new AmqpError(
        "NOT_ALLOWED",
        `number of channels opened (${this.#channels.size}) has reached the negotiated channel_max (${this.channelMax})`,
      );
    }
    const created = new Channel(this, id);
    this.#channels.set(id, created);
    this.broker.churn.channelCreated++;
    return created;
  }

  /** Forgets a channel (after channel.close-ok either way). */
  removeChannel(id: number): void {
    const ch = this.#channels.get(id);
    if (ch === undefined) return;
    this.#channels.delete(id);
    this.#channelGone(ch);
  }

  /** A channel left the table: counted as closed, its message counters kept by its vhost. */
  #channelGone(ch: Channel): void {
    this.broker.churn.channelClosed++;
    addStats(this.vhost!.stats, ch.stats);
  }

  // ---------------------------------------------------------------- channel 0

  #onConnectionMethod(m: AnyMethod): void {
    const state = this.#state;
    if (state === "closing") {
      if (m.id === METHOD.CONNECTION_CLOSE_OK) this.#terminate();
      else if (m.id === METHOD.CONNECTION_CLOSE) {
        this.sendMethod(0, { id: METHOD.CONNECTION_CLOSE_OK });
        this.#terminate();
      }
      return;
    }
    switch (m.id) {
      case METHOD.CONNECTION_START_OK:
        if (state !== "start") break;
        return this.#onStartOk(m.mechanism, m.response, m.clientProperties);
      case METHOD.CONNECTION_SECURE_OK:
        break; // PLAIN and AMQPLAIN never send connection.secure
      case METHOD.CONNECTION_TUNE_OK:
        if (state !== "tune") break;
        return this.#onTuneOk(m.channelMax, m.frameMax, m.heartbeat);
      case METHOD.CONNECTION_OPEN:
        if (state !== "open-wait") break;
        return this.#onOpen(m.virtualHost);
      case METHOD.CONNECTION_CLOSE:
        this.broker.log.debug("client closed connection", {
          connection: this.name,
          code: m.replyCode,
          text: m.replyText,
        });
        this.#releaseAll();
        this.sendMethod(0, { id: METHOD.CONNECTION_CLOSE_OK });
        this.flush();
        this.#state = "closed-by-peer";
        this.#closeSentAt = this.broker.now;
        return;
      case METHOD.CONNECTION_UPDATE_SECRET:
        if (state !== "open") break;
        this.sendMethod(0, { id: METHOD.CONNECTION_UPDATE_SECRET_OK });
        return;
    }
    // RabbitMQ's words for any method that does not fit the connection's state on channel 0.
    const phase = state === "open"
      ? "running"
      : state === "open-wait"
      ? "opening"
      : state === "tune"
      ? "tuning"
      : "starting";
    throw new AmqpError("CHANNEL_ERROR", `unexpected method in connection state ${phase}`)
      .forMethod(m.id >>> 16, m.id & 0xffff);
  }

  #sendStart(): void {
    const props = this.broker.config.serverProperties;
    this.sendMethod(0, {
      id: METHOD.CONNECTION_START,
      versionMajor: 0,
      versionMinor: 9,
      serverProperties: {
        capabilities: {
          publisher_confirms: true,
          exchange_exchange_bindings: true,
          "basic.nack": true,
          consumer_cancel_notify: true,
          authentication_failure_close: true,
          per_consumer_qos: true,
          consumer_priorities: true,
          direct_reply_to: true,
        },
        cluster_name: props.cluster_name ?? "warren",
        copyright: "Copyright (c) the Warren authors",
        information: "Licensed under the MIT licence. Website: https://github.com/warren-broker",
        platform: props.platform ?? "JavaScript",
        product: "Warren",
        version: props.version ?? VERSION,
      },
      mechanisms: "PLAIN AMQPLAIN",
      locales: "en_US",
    });
  }

  #onStartOk(mechanism: string, response: Uint8Array, clientProperties: FieldTable): void {
    this.clientProperties = clientProperties;
    const caps = clientProperties.capabilities;
    if (caps && typeof caps === "object" && !Array.isArray(caps) && !(caps instanceof Uint8Array)) {
      const c = caps as FieldTable;
      this.capabilities.authenticationFailureClose = c.authentication_failure_close === true;
      this.capabilities.consumerCancelNotify = c.consumer_cancel_notify === true;
      this.capabilities.connectionBlocked = c["connection.blocked"] === true;
    }
    if (mechanism !== "PLAIN" && mechanism !== "AMQPLAIN") {
      throw new AmqpError("COMMAND_INVALID", `unknown authentication mechanism '${mechanism}'`).forMethod(
        10,
        11,
      );
    }
    const credentials = parseSaslResponse(mechanism, response);
    const result = credentials &&
      this.broker.users.authenticate(credentials.user, credentials.password, this.transport.remoteAddress);
    if (!result || "refused" in result) {
      const reason = result ? result.refused : `bad ${mechanism} response`;
      this.broker.log.warn("login refused", { connection: this.name, mechanism, reason });
      const err = new AmqpError(
        "ACCESS_REFUSED",
        `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`,
      );
      if (this.capabilities.authenticationFailureClose) {
        this.#closeConnection(err);
      } else {
        this.#terminate();
      }
      return;
    }
    this.user = result;
    this.#state = "tune";
    this.sendMethod(0, {
      id: METHOD.CONNECTION_TUNE,
      channelMax: this.broker.config.channelMax,
      frameMax: this.broker.config.frameMax,
      heartbeat: this.broker.config.heartbeat,
    });
  }

  #onTuneOk(channelMax: number, frameMax: number, heartbeat: number): void {
    const server = this.broker.config;
    if (frameMax !== 0 && frameMax < FRAME_MIN_SIZE) {
      throw new AmqpError("NOT_ALLOWED", `frame_max=${frameMax} < ${FRAME_MIN_SIZE} min size`).forMethod(
        10,
        31,
      );
    }
    if (frameMax > server.frameMax) {
      throw new AmqpError("NOT_ALLOWED", `frame_max=${frameMax} > ${server.frameMax} max size`).forMethod(
        10,
        31,
      );
    }
    if (channelMax > server.channelMax) {
      throw new AmqpError(
        "NOT_ALLOWED",
        `negotiated channel_max = ${channelMax} is higher than the maximum allowed value (${server.channelMax})`,
      ).forMethod(10, 31);
    }
    this.frameMax = frameMax === 0 ? server.frameMax : frameMax;
    this.channelMax = channelMax === 0 ? server.channelMax : channelMax;
    this.heartbeat = heartbeat;
    this.#decoder.setFrameMax(this.frameMax);
    this.#state = "open-wait";
  }

  #onOpen(vhostName: string): void {
    const vhost = this.broker.vhosts.get(vhostName);
    if (!vhost) {
      throw new AmqpError("NOT_ALLOWED", `vhost ${vhostName} not found`).forMethod(10, 40);
    }
    // Any permission entry for the vhost lets the user in, whatever its patterns (RabbitMQ).
    const user = this.user!.name;
    if (this.broker.permissions.get(user, vhostName) === undefined) {
      throw new AmqpError("NOT_ALLOWED", `access to vhost '${vhostName}' refused for user '${user}'`)
        .forMethod(10, 40);
    }
    this.vhost = vhost;
    this.#state = "open";
    this.broker.churn.connectionCreated++;
    this.sendMethod(0, { id: METHOD.CONNECTION_OPEN_OK, knownHosts: "" });
    this.broker.log.debug("connection open", {
      connection: this.name,
      user: this.user?.name,
      vhost: vhostName,
    });
  }

  // ---------------------------------------------------------------- errors and closing

  /** Turns any error into the right close; never throws. */
  #fail(err: unknown, channelId: number): void {
    const e = toAmqpError(err);
    if (!(err instanceof AmqpError)) {
      this.broker.log.error("internal error", {
        connection: this.name,
        error: err instanceof Error ? err.stack : String(err),
      });
    }
    if (this.#state === "closed" || this.#state === "closing" || this.#state === "closed-by-peer") return;
    if (e.hard || channelId === 0) {
      this.broker.log.info("closing connection", { connection: this.name, reply: e.replyText });
      this.#closeConnection(e);
      return;
    }
    const ch = this.#channels.get(channelId);
    if (ch) ch.closeWithError(e);
    else this.#closeConnection(e);
  }

  #closeConnection(e: AmqpError): void {
    if (this.#state === "closed" || this.#state === "closing" || this.#state === "closed-by-peer") return;
    this.#releaseAll();
    this.sendMethod(0, {
      id: METHOD.CONNECTION_CLOSE,
      replyCode: e.code,
      replyText: e.replyText,
      classId: e.classId,
      methodId: e.methodId,
    });
    this.flush();
    this.#state = "closing";
    this.#closeSentAt = this.broker.now;
  }

  /** Server-initiated close with 320 CONNECTION_FORCED (shutdown, management). */
  forceClose(reason: string): void {
    if (this.#state === "closed-by-peer") return this.#terminate();
    this.#closeConnection(new AmqpError("CONNECTION_FORCED", reason));
  }

  /** Releases every channel: consumers cancelled, unacked messages requeued, exclusive queues deleted. */
  #releaseAll(): void {
    for (const ch of this.#channels.values()) {
      ch.release();
      this.#channelGone(ch);
    }
    this.#channels.clear();
    const vhost = this.vhost;
    if (vhost) {
      for (const q of this.exclusiveQueues) vhost.removeQueue(q);
    }
    this.exclusiveQueues.clear();
  }

  /** Flushes and closes the socket; the connection is finished. */
  #terminate(): void {
    if (this.#state === "closed") return;
    this.#releaseAll();
    this.flush();
    this.#state = "closed";
    this.broker.connections.delete(this);
    this.broker.churn.connectionClosed++;
    this.transport.close();
  }

  /** The transport reports the socket closed (by the peer or an I/O error). */
  onClosed(): void {
    if (this.#state === "closed") return;
    if (this.#state === "open") this.broker.log.debug("client went away", { connection: this.name });
    this.#releaseAll();
    this.#state = "closed";
    this.broker.connections.delete(this);
    this.broker.churn.connectionClosed++;
  }

  /** Blocked by a memory or disk alarm (RabbitMQ's "blocked" state). */
  get blocked(): boolean {
    return this.#blocked;
  }

  /**
   * A resource alarm is on and this connection publishes: stop reading its socket and, if the
   * client announced the capability, send connection.blocked with the reason. Deliveries and
   * acks already read go on; heartbeats from the client are not expected meanwhile.
   */
  block(reason: string): void {
    if (this.#blocked || this.#state !== "open") return;
    this.#blocked = true;
    this.broker.log.info("connection blocked by a resource alarm", { connection: this.name, reason });
    if (this.capabilities.connectionBlocked) this.sendMethod(0, { id: METHOD.CONNECTION_BLOCKED, reason });
    this.transport.pauseReading();
  }

  /** Every alarm cleared: read the socket again and send connection.unblocked if blocked was sent. */
  unblock(): void {
    if (!this.#blocked) return;
    this.#blocked = false;
    this.#lastReceived = this.broker.now;
    if (this.#state !== "open") return;
    if (this.capabilities.connectionBlocked) this.sendMethod(0, { id: METHOD.CONNECTION_UNBLOCKED });
    this.transport.resumeReading();
  }

  /** The transport's backlog drained: resume deliveries. */
  onDrain(): void {
    if (!this.congested) return;
    this.congested = false;
    for (const ch of this.#channels.values()) ch.resume();
  }

  /** Timers: heartbeats, handshake timeout, close-ok timeout. */
  tick(now: number): void {
    const state = this.#state;
    if (state === "closed") return;
    if (state === "closing") {
      if (now - this.#closeSentAt >= CLOSE_OK_TIMEOUT) this.#terminate();
      return;
    }
    if (state === "closed-by-peer") {
      if (now - this.#closeSentAt >= PEER_CLOSE_TIMEOUT) this.#terminate();
      return;
    }
    if (
      state !== "open" &&
      now - this.#createdAt >= this.broker.config.handshakeTimeout
    ) {
      this.broker.log.info("closing connection: handshake timeout", { connection: this.name, state });
      this.#terminate();
      return;
    }
    if (state === "open") { for (const ch of this.#channels.values()) ch.tick(now); }
    const hb = this.heartbeat * 1000;
    if (hb > 0 && (state === "open" || state === "open-wait")) {
      // A blocked connection's socket is not read, so its heartbeats cannot be seen (RabbitMQ
      // likewise stops monitoring them while blocked).
      if (now - this.#lastReceived >= hb * 2 && !this.#blocked) {
        this.broker.log.warn("missed heartbeats from client", {
          connection: this.name,
          timeout: this.heartbeat,
        });
        this.#terminate();
        return;
      }
      if (now - this.#lastSent >= hb / 2) {
        const at = this.#out.beginFrame(FRAME.HEARTBEAT, 0);
        this.#out.endFrame(at);
        this.flush();
      }
    }
  }

  // ---------------------------------------------------------------- output

  /** Appends a method frame. */
  sendMethod(channel: number, m: AnyMethod): void {
    const w = this.#out;
    const at = w.beginFrame(FRAME.METHOD, channel);
    encodeMethod(w, m);
    w.endFrame(at);
    this.#written();
  }

  /** Appends basic.deliver and the message's content (hot path: written field by field). */
  sendDeliver(
    channel: number,
    consumerTag: string,
    deliveryTag: number,
    redelivered: boolean,
    message: Message,
  ): void {
    const w = this.#out;
    const at = w.beginFrame(FRAME.METHOD, channel);
    w.short(60);
    w.short(60);
    w.shortstr(consumerTag);
    w.longlong(deliveryTag);
    w.octet(redelivered ? 1 : 0);
    w.shortstr(message.exchange);
    w.shortstr(message.routingKey);
    w.endFrame(at);
    this.#content(channel, message);
  }

  /** Appends basic.get-ok and the message's content. */
  sendGetOk(
    channel: number,
    deliveryTag: number,
    redelivered: boolean,
    message: Message,
    remaining: number,
  ): void {
    this.sendMethod(channel, {
      id: METHOD.BASIC_GET_OK,
      deliveryTag,
      redelivered,
      exchange: message.exchange,
      routingKey: message.routingKey,
      messageCount: remaining,
    });
    this.#content(channel, message);
  }

  /** Appends basic.return and the message's content. */
  sendReturn(channel: number, code: number, text: string, message: Message): void {
    this.sendMethod(channel, {
      id: METHOD.BASIC_RETURN,
      replyCode: code,
      replyText: text,
      exchange: message.exchange,
      routingKey: message.routingKey,
    });
    this.#content(channel, message);
  }

  /** Content header and body frames, split at frame-max. */
  #content(channel: number, message: Message): void {
    const w = this.#out;
    const body = message.body;
    let at = w.beginFrame(FRAME.HEADER, channel);
    w.short(60);
    w.short(0);
    w.longlong(body.length);
    w.raw(message.rawProperties);
    w.endFrame(at);
    const max = this.frameMax - FRAME_OVERHEAD;
    for (let off = 0; off < body.length; off += max) {
      at = w.beginFrame(FRAME.BODY, channel);
      w.raw(off === 0 && body.length <= max ? body : body.subarray(off, Math.min(off + max, body.length)));
      w.endFrame(at);
    }
    this.#written();
  }

  #written(): void {
    if (this.#out.offset >= FLUSH_THRESHOLD) this.flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** Hands buffered output to the transport. */
  flush(): void {
    this.#flushScheduled = false;
    const w = this.#out;
    if (w.offset === 0 || this.#state === "closed") return;
    const data = w.bytes.slice(0, w.offset);
    if (w.bytes.length > MAX_RETAINED_OUTPUT) this.#out = new Writer(FLUSH_THRESHOLD * 2);
    else w.reset();
    this.#lastSent = this.broker.now;
    // Journal entries saying these deliveries happened reach the OS before the deliveries do.
    this.broker.store?.writeOut();
    this.sendOct += data.length;
    this.sendCnt++;
    if (!this.transport.write(data)) this.congested = true;
  }
}

/** RabbitMQ's FRAME_ERROR for a method whose arguments do not parse (truncated or trailing bytes). */
function cannotDecode(payload: Uint8Array): AmqpError {
  return new AmqpError("FRAME_ERROR", `cannot decode ${erlangBinary(payload.subarray(4))}`)
    .forMethod(payload[0] << 8 | payload[1], payload[2] << 8 | payload[3]);
}

/** Extracts user and password from a SASL response; null if malformed or unsupported. */
function parseSaslResponse(
  mechanism: string,
  response: Uint8Array,
): { user: string; password: Uint8Array } | null {
  if (mechanism === "PLAIN") {
    // authzid \0 authcid \0 password
    const first = response.indexOf(0);
    const second = first < 0 ? -1 : response.indexOf(0, first + 1);
    if (second < 0) return null;
    return {
      user: new TextDecoder().decode(response.subarray(first + 1, second)),
      password: response.slice(second + 1),
    };
  }
  if (mechanism === "AMQPLAIN") {
    // A field table without its length prefix.
    const framed = new Uint8Array(response.length + 4);
    new DataView(framed.buffer).setUint32(0, response.length);
    framed.set(response, 4);
    try {
      const t = new Reader().reset(framed).table();
      const user = t.LOGIN;
      const password = t.PASSWORD;
      if (typeof user !== "string" || typeof password !== "string") return null;
      return { user, password: new TextEncoder().encode(password) };
    } catch {
      return null;
    }
  }
  return null;
}
