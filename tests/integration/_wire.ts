// A tiny, self-contained raw AMQP 0-9-1 client for protocol-level tests.
//
// It deliberately shares no code with Warren's own codec (core/): frames are encoded by hand so tests can
// send malformed or out-of-order input and observe exactly what the broker answers. Every wait is bounded
// by a timeout.

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;

export const PROTOCOL_HEADER = new Uint8Array([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]); // "AMQP" 0 0 9 1

const te = new TextEncoder();
const td = new TextDecoder();

// ---------------------------------------------------------------------------------------------------------
// Encoding

/** A raw field-table value: `bytes` are written verbatim after the field name (type tag included). */
export interface RawFieldValue {
  $raw: Uint8Array;
}
export type FieldValue = string | number | bigint | boolean | null | FieldTable | RawFieldValue;
export interface FieldTable {
  [key: string]: FieldValue;
}

/** Growable big-endian byte writer with AMQP primitives. Consecutive `bit()` calls pack into one octet. */
export class Enc {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 0;
  #bitPos = 8; // 8 = no open bit octet
  #bitIndex = -1;

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  #endBits(): void {
    this.#bitPos = 8;
  }
  octet(v: number): this {
    this.#endBits();
    this.#ensure(1);
    this.#view.setUint8(this.#len, v);
    this.#len += 1;
    return this;
  }
  short(v: number): this {
    this.#endBits();
    this.#ensure(2);
    this.#view.setUint16(this.#len, v);
    this.#len += 2;
    return this;
  }
  long(v: number): this {
    this.#endBits();
    this.#ensure(4);
    this.#view.setUint32(this.#len, v);
    this.#len += 4;
    return this;
  }
  longlong(v: number | bigint): this {
    this.#endBits();
    this.#ensure(8);
    this.#view.setBigUint64(this.#len, BigInt(v));
    this.#len += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.#endBits();
    this.#ensure(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }
  shortstr(s: string | Uint8Array): this {
    const b = typeof s === "string" ? te.encode(s) : s;
    if (b.length > 255) throw new RangeError("shortstr too long");
    return this.octet(b.length).bytes(b);
  }
  longstr(s: string | Uint8Array): this {
    const b = typeof s === "string" ? te.encode(s) : s;
    return this.long(b.length).bytes(b);
  }
  bit(v: boolean): this {
    if (this.#bitPos === 8) {
      this.#ensure(1);
      this.#bitIndex = this.#len;
      this.#buf[this.#len] = 0;
      this.#len += 1;
      this.#bitPos = 0;
    }
    if (v) this.#buf[this.#bitIndex] |= 1 << this.#bitPos;
    this.#bitPos += 1;
    return this;
  }
  bits(...vs: boolean[]): this {
    for (const v of vs) this.bit(v);
    return this;
  }
  table(t: FieldTable): this {
    const inner = new Enc();
    for (const [k, v] of Object.entries(t)) {
      inner.shortstr(k);
      inner.fieldValue(v);
    }
    return this.longstr(inner.finish());
  }
  fieldValue(v: FieldValue): this {
    if (v === null) return this.octet(0x56); // 'V'
    if (typeof v === "string") return this.octet(0x53).longstr(v); // 'S'
    if (typeof v === "boolean") return this.octet(0x74).octet(v ? 1 : 0); // 't'
    if (typeof v === "bigint") return this.octet(0x6c).longlong(v); // 'l'
    if (typeof v === "number") {
      if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) {
        this.octet(0x49); // 'I'
        this.#ensure(4);
        this.#view.setInt32(this.#len, v);
        this.#len += 4;
        return this;
      }
      this.octet(0x64); // 'd'
      this.#ensure(8);
      this.#view.setFloat64(this.#len, v);
      this.#len += 8;
      return this;
    }
    if ("$raw" in v && v.$raw instanceof Uint8Array) return this.bytes(v.$raw);
    return this.octet(0x46).table(v as FieldTable); // 'F'
  }
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Wrap a payload into a frame: type, channel, size, payload, frame-end (overridable for malformed tests). */
export function frame(type: number, channel: number, payload: Uint8Array, end = FRAME_END): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, type);
  v.setUint16(1, channel);
  v.setUint32(3, payload.length);
  out.set(payload, 7);
  out[7 + payload.length] = end;
  return out;
}

/** A method frame; `args` builds the argument list. */
export function methodFrame(
  channel: number,
  classId: number,
  methodId: number,
  args?: (e: Enc) => unknown,
): Uint8Array {
  const e = new Enc().short(classId).short(methodId);
  args?.(e);
  return frame(FRAME_METHOD, channel, e.finish());
}

/** A content header frame. `flags`/`props` default to "no properties". */
export function headerFrame(
  channel: number,
  bodySize: number | bigint,
  opts: { classId?: number; flags?: number; props?: (e: Enc) => unknown; weight?: number } = {},
): Uint8Array {
  const e = new Enc().short(opts.classId ?? 60).short(opts.weight ?? 0).longlong(bodySize).short(
    opts.flags ?? 0,
  );
  opts.props?.(e);
  return frame(FRAME_HEADER, channel, e.finish());
}

export function bodyFrame(channel: number, body: Uint8Array | string): Uint8Array {
  return frame(FRAME_BODY, channel, typeof body === "string" ? te.encode(body) : body);
}

export function heartbeatFrame(): Uint8Array {
  return frame(FRAME_HEARTBEAT, 0, new Uint8Array(0));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Builders for the methods tests use most. */
export const M = {
  channelOpen: (ch: number) => methodFrame(ch, 20, 10, (e) => e.shortstr("")),
  channelClose: (ch: number, code = 200, text = "bye", classId = 0, methodId = 0) =>
    methodFrame(ch, 20, 40, (e) => e.short(code).shortstr(text).short(classId).short(methodId)),
  channelCloseOk: (ch: number) => methodFrame(ch, 20, 41),
  channelFlow: (ch: number, active: boolean) => methodFrame(ch, 20, 20, (e) => e.bit(active)),
  connectionClose: (code = 200, text = "bye", classId = 0, methodId = 0) =>
    methodFrame(0, 10, 50, (e) => e.short(code).shortstr(text).short(classId).short(methodId)),
  connectionCloseOk: () => methodFrame(0, 10, 51),
  exchangeDeclare: (
    ch: number,
    name: string,
    type = "direct",
    o: { passive?: boolean; durable?: boolean; autoDelete?: boolean; internal?: boolean; args?: FieldTable } =
      {},
  ) =>
    methodFrame(ch, 40, 10, (e) =>
      e.short(0).shortstr(name).shortstr(type)
        .bits(!!o.passive, !!o.durable, !!o.autoDelete, !!o.internal, false).table(o.args ?? {})),
  queueDeclare: (
    ch: number,
    name: string,
    o: {
      passive?: boolean;
      durable?: boolean;
      exclusive?: boolean;
      autoDelete?: boolean;
      args?: FieldTable;
    } = {},
  ) =>
    methodFrame(ch, 50, 10, (e) =>
      e.short(0).shortstr(name)
        .bits(!!o.passive, !!o.durable, !!o.exclusive, !!o.autoDelete, false).table(o.args ?? {})),
  queueBind: (ch: number, queue: string, exchange: string, routingKey: string, args: FieldTable = {}) =>
    methodFrame(
      ch,
      50,
      20,
      (e) => e.short(0).shortstr(queue).shortstr(exchange).shortstr(routingKey).bit(false).table(args),
    ),
  queueDelete: (ch: number, queue: string) =>
    methodFrame(ch, 50, 40, (e) => e.short(0).shortstr(queue).bits(false, false, false)),
  basicQos: (ch: number, prefetchSize: number, prefetchCount: number, global = false) =>
    methodFrame(ch, 60, 10, (e) => e.long(prefetchSize).short(prefetchCount).bit(global)),
  basicConsume: (
    ch: number,
    queue: string,
    tag = "",
    o: { noLocal?: boolean; noAck?: boolean; exclusive?: boolean; args?: FieldTable } = {},
  ) =>
    methodFrame(ch, 60, 20, (e) =>
      e.short(0).shortstr(queue).shortstr(tag)
        .bits(!!o.noLocal, !!o.noAck, !!o.exclusive, false).table(o.args ?? {})),
  basicCancel: (ch: number, tag: string) => methodFrame(ch, 60, 30, (e) => e.shortstr(tag).bit(false)),
  basicPublish: (ch: number, exchange: string, routingKey: string, mandatory = false, immediate = false) =>
    methodFrame(
      ch,
      60,
      40,
      (e) => e.short(0).shortstr(exchange).shortstr(routingKey).bits(mandatory, immediate),
    ),
  basicGet: (ch: number, queue: string, noAck = false) =>
    methodFrame(ch, 60, 70, (e) => e.short(0).shortstr(queue).bit(noAck)),
  basicAck: (ch: number, tag: number | bigint, multiple = false) =>
    methodFrame(ch, 60, 80, (e) => e.longlong(tag).bit(multiple)),
  basicReject: (ch: number, tag: number | bigint, requeue = false) =>
    methodFrame(ch, 60, 90, (e) => e.longlong(tag).bit(requeue)),
  basicNack: (ch: number, tag: number | bigint, multiple = false, requeue = false) =>
    methodFrame(ch, 60, 120, (e) => e.longlong(tag).bits(multiple, requeue)),
  basicRecover: (ch: number, requeue: boolean) => methodFrame(ch, 60, 110, (e) => e.bit(requeue)),
  txSelect: (ch: number) => methodFrame(ch, 90, 10),
  confirmSelect: (ch: number) => methodFrame(ch, 85, 10, (e) => e.bit(false)),
};

/** basic.publish + content header + one body frame (empty body → no body frame). */
export function publishFrames(ch: number, exchange: string, routingKey: string, body: string | Uint8Array) {
  const b = typeof body === "string" ? te.encode(body) : body;
  const parts = [M.basicPublish(ch, exchange, routingKey), headerFrame(ch, b.length)];
  if (b.length > 0) parts.push(bodyFrame(ch, b));
  return concat(...parts);
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

export class Dec {
  #view: DataView;
  pos = 0;
  #bitPos = 8;
  #bitByte = 0;
  constructor(readonly buf: Uint8Array) {
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  #endBits(): void {
    this.#bitPos = 8;
  }
  octet(): number {
    this.#endBits();
    return this.#view.getUint8(this.pos++);
  }
  short(): number {
    this.#endBits();
    const v = this.#view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  long(): number {
    this.#endBits();
    const v = this.#view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  longlong(): bigint {
    this.#endBits();
    const v = this.#view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.#endBits();
    if (this.pos + n > this.buf.length) throw new RangeError("read past end");
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  shortstr(): string {
    return td.decode(this.bytes(this.octet()));
  }
  longstr(): string {
    return td.decode(this.bytes(this.long()));
  }
  bit(): boolean {
    if (this.#bitPos === 8) {
      this.#bitByte = this.#view.getUint8(this.pos++);
      this.#bitPos = 0;
    }
    return ((this.#bitByte >> this.#bitPos++) & 1) === 1;
  }
  table(): Record<string, unknown> {
    const sub = new Dec(this.bytes(this.long()));
    const out: Record<string, unknown> = {};
    while (sub.pos < sub.buf.length) {
      const k = sub.shortstr();
      out[k] = sub.fieldValue();
    }
    return out;
  }
  fieldValue(): unknown {
    const tag = String.fromCharCode(this.octet());
    const v = this.#view;
    const at = (n: number) => {
      const p = this.pos;
      this.pos += n;
      return p;
    };
    switch (tag) {
      case "t":
        return this.octet() !== 0;
      case "b":
        return v.getInt8(at(1));
      case "B":
        return v.getUint8(at(1));
      case "s":
        return v.getInt16(at(2));
      case "u":
        return v.getUint16(at(2));
      case "I":
        return v.getInt32(at(4));
      case "i":
        return v.getUint32(at(4));
      case "l":
        return v.getBigInt64(at(8));
      case "f":
        return v.getFloat32(at(4));
      case "d":
        return v.getFloat64(at(8));
      case "D": {
        const scale = this.octet();
        return { scale, value: v.getUint32(at(4)) };
      }
      case "S":
        return this.longstr();
      case "x":
        return this.bytes(this.long());
      case "T":
        return this.longlong();
      case "F":
        return this.table();
      case "A": {
        const sub = new Dec(this.bytes(this.long()));
        const arr: unknown[] = [];
        while (sub.pos < sub.buf.length) arr.push(sub.fieldValue());
        return arr;
      }
      case "V":
        return null;
      default:
        throw new Error(`unknown field type ${JSON.stringify(tag)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Connection wrapper

export interface Frame {
  type: number;
  channel: number;
  payload: Uint8Array;
}

export interface MethodFrame {
  channel: number;
  classId: number;
  methodId: number;
  /** A decoder positioned at the first argument. */
  args: Dec;
  payload: Uint8Array;
}

export interface CloseInfo {
  /** "connection" for connection.close (10,50), "channel" for channel.close (20,40). */
  kind: "connection" | "channel";
  channel: number;
  replyCode: number;
  replyText: string;
  classId: number;
  methodId: number;
}

/** What `Wire.waitForEof()` saw. */
export interface EofResult {
  /** true if the peer closed the socket (EOF or reset) before the deadline. */
  closed: boolean;
  elapsedMs: number;
  /** Everything received while waiting (split it with `splitFrames()`). */
  bytes: Uint8Array;
}

export class TimeoutError extends Error {
  override name = "TimeoutError";
}

export class SocketClosedError extends Error {
  override name = "SocketClosedError";
}

export const DEFAULT_TIMEOUT = 2000;

function describe(f: Frame): string {
  if (f.type === FRAME_METHOD && f.payload.length >= 4) {
    const d = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength);
    let s = `method ${d.getUint16(0)}.${d.getUint16(2)} on channel ${f.channel}`;
    const isClose = (d.getUint16(0) === 10 && d.getUint16(2) === 50) ||
      (d.getUint16(0) === 20 && d.getUint16(2) === 40);
    if (isClose) {
      const a = new Dec(f.payload.subarray(4));
      s += ` (${a.short()} ${a.shortstr()} ${a.short()}.${a.short()})`;
    }
    return s;
  }
  return `frame type ${f.type} on channel ${f.channel} (${f.payload.length} bytes)`;
}

/** A raw socket with a background reader that buffers everything the peer sends. */
export class Wire {
  #buf = new Uint8Array(0);
  #eof = false;
  #wake: (() => void) | null = null;
  #pump: Promise<void>;
  #closed = false;
  /** Set when the peer's stream ended (EOF or reset). */
  get eof(): boolean {
    return this.#eof && this.#buf.length === 0;
  }

  constructor(readonly conn: Deno.TcpConn) {
    this.#pump = this.#run();
  }

  static async connect(hostname: string, port: number): Promise<Wire> {
    const conn = await Deno.connect({ hostname, port, transport: "tcp" });
    conn.setNoDelay(true);
    return new Wire(conn);
  }

  async #run(): Promise<void> {
    const chunk = new Uint8Array(65536);
    try {
      while (true) {
        const n = await this.conn.read(chunk);
        if (n === null) break;
        const next = new Uint8Array(this.#buf.length + n);
        next.set(this.#buf);
        next.set(chunk.subarray(0, n), this.#buf.length);
        this.#buf = next;
        this.#wake?.();
      }
    } catch {
      // reset / closed locally: treat as end of stream
    } finally {
      this.#eof = true;
      this.#wake?.();
    }
  }

  /** Wait until more data arrives or the stream ends; false on timeout. */
  async #waitMore(deadline: number): Promise<boolean> {
    if (this.#eof) return true;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await new Promise<boolean>((resolve) => {
        this.#wake = () => resolve(true);
        timer = setTimeout(() => resolve(false), remaining);
      });
    } finally {
      clearTimeout(timer);
      this.#wake = null;
    }
  }

  /** Write all bytes; throws if the socket is gone. */
  async send(...parts: Uint8Array[]): Promise<void> {
    const data = parts.length === 1 ? parts[0] : concat(...parts);
    let off = 0;
    while (off < data.length) off += await this.conn.write(data.subarray(off));
  }

  /** Like send() but reports failure (e.g. peer already closed) instead of throwing. */
  async trySend(...parts: Uint8Array[]): Promise<boolean> {
    try {
      await this.send(...parts);
      return true;
    } catch {
      return false;
    }
  }

  /** Everything received so far (consumed). */
  takeBuffered(): Uint8Array {
    const b = this.#buf;
    this.#buf = new Uint8Array(0);
    return b;
  }

  /** Read raw bytes until at least `n` are buffered, the stream ends, or the timeout passes. */
  async readRaw(n: number, timeoutMs = DEFAULT_TIMEOUT): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.#buf.length < n && !this.#eof) {
      if (!(await this.#waitMore(deadline))) break;
    }
    return this.takeBuffered();
  }

  /** Read the next frame. Throws TimeoutError, SocketClosedError, or Error on a malformed frame. */
  async readFrame(timeoutMs = DEFAULT_TIMEOUT): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      if (this.#buf.length >= 7) {
        const d = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
        const size = d.getUint32(3);
        if (this.#buf.length >= 8 + size) {
          const type = d.getUint8(0);
          const channel = d.getUint16(1);
          const payload = this.#buf.slice(7, 7 + size);
          const end = this.#buf[7 + size];
          this.#buf = this.#buf.slice(8 + size);
          if (end !== FRAME_END) throw new Error(`bad frame end 0x${end.toString(16)}`);
          return { type, channel, payload };
        }
      }
      if (this.#eof) {
        throw new SocketClosedError(`socket closed (${this.#buf.length} stray bytes)`);
      }
      if (!(await this.#waitMore(deadline))) throw new TimeoutError(`no frame within ${timeoutMs} ms`);
    }
  }

  /** Next non-heartbeat frame. */
  async readNonHeartbeat(timeoutMs = DEFAULT_TIMEOUT): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const f = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (f.type !== FRAME_HEARTBEAT) return f;
    }
  }

  async readMethod(timeoutMs = DEFAULT_TIMEOUT): Promise<MethodFrame> {
    const f = await this.readNonHeartbeat(timeoutMs);
    if (f.type !== FRAME_METHOD) throw new Error(`expected a method frame, got ${describe(f)}`);
    return toMethod(f);
  }

  /** Read the next (non-heartbeat) frame and require it to be method classId.methodId. */
  async expectMethod(classId: number, methodId: number, timeoutMs = DEFAULT_TIMEOUT): Promise<MethodFrame> {
    const f = await this.readNonHeartbeat(timeoutMs);
    if (f.type === FRAME_METHOD) {
      const m = toMethod(f);
      if (m.classId === classId && m.methodId === methodId) return m;
    }
    throw new Error(`expected method ${classId}.${methodId}, got ${describe(f)}`);
  }

  /**
   * Read the next (non-heartbeat) frame and require it to be connection.close or channel.close.
   * With `skipOthers`, unrelated frames (deliveries, acks…) before the close are skipped.
   */
  async expectClose(timeoutMs = DEFAULT_TIMEOUT, skipOthers = false): Promise<CloseInfo> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const f = await this.readNonHeartbeat(Math.max(1, deadline - Date.now()));
      if (f.type === FRAME_METHOD) {
        const m = toMethod(f);
        const kind = m.classId === 10 && m.methodId === 50
          ? "connection"
          : m.classId === 20 && m.methodId === 40
          ? "channel"
          : null;
        if (kind) {
          return {
            kind,
            channel: m.channel,
            replyCode: m.args.short(),
            replyText: m.args.shortstr(),
            classId: m.args.short(),
            methodId: m.args.short(),
          };
        }
      }
      if (!skipOthers) throw new Error(`expected a close, got ${describe(f)}`);
    }
  }

  /** Wait for the peer to close the socket; returns whatever arrived before. Throws on timeout. */
  async expectSocketClosed(timeoutMs = DEFAULT_TIMEOUT): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#eof) {
      if (!(await this.#waitMore(deadline))) {
        throw new TimeoutError(`socket still open after ${timeoutMs} ms`);
      }
    }
    return this.takeBuffered();
  }

  /**
   * Send nothing and wait (bounded) for the peer to close the socket. Unlike expectSocketClosed(), a socket
   * still open at the deadline is a result (`closed: false`), not an error: for "stays open" checks.
   */
  async waitForEof(timeoutMs: number): Promise<EofResult> {
    const start = Date.now();
    const deadline = start + timeoutMs;
    while (!this.#eof) {
      if (!(await this.#waitMore(deadline))) break;
    }
    return { closed: this.#eof, elapsedMs: Date.now() - start, bytes: this.takeBuffered() };
  }

  /** True if nothing (except heartbeats) arrives within `ms` and the socket stays open. */
  async expectSilence(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      let f: Frame;
      try {
        f = await this.readFrame(Math.max(1, deadline - Date.now()));
      } catch (e) {
        if (e instanceof TimeoutError) return;
        throw e;
      }
      if (f.type !== FRAME_HEARTBEAT) throw new Error(`expected silence, got ${describe(f)}`);
    }
  }

  /** Close our side and wait for the reader to finish (keeps Deno's op sanitizer happy). */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.conn.close();
      } catch {
        // already closed
      }
    }
    await this.#pump;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function toMethod(f: Frame): MethodFrame {
  const d = new Dec(f.payload);
  const classId = d.short();
  const methodId = d.short();
  return { channel: f.channel, classId, methodId, args: d, payload: f.payload };
}

/**
 * Split received bytes into whole frames. Stops at the first incomplete frame or bad frame-end octet and
 * returns it and everything after it as `rest` (e.g. a protocol header sent back).
 */
export function splitFrames(bytes: Uint8Array): { frames: Frame[]; rest: Uint8Array } {
  const frames: Frame[] = [];
  const d = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (bytes.length - off >= 8) {
    const size = d.getUint32(off + 3);
    if (bytes.length - off < 8 + size || bytes[off + 7 + size] !== FRAME_END) break;
    frames.push({
      type: d.getUint8(off),
      channel: d.getUint16(off + 1),
      payload: bytes.slice(off + 7, off + 7 + size),
    });
    off += 8 + size;
  }
  return { frames, rest: bytes.slice(off) };
}

// ---------------------------------------------------------------------------------------------------------
// Handshake

export interface HandshakeOptions {
  /** Heartbeat to send in tune-ok (default: 0 = disabled; "proposed": the server's proposal). */
  heartbeat?: number | "proposed";
  /** frame-max to send in tune-ok (default: the server's proposal). */
  frameMax?: number;
  /** channel-max to send in tune-ok (default: the server's proposal). */
  channelMax?: number;
  user?: string;
  password?: string;
  mechanism?: string;
  /** SASL response bytes (default: PLAIN "\0user\0password"). */
  response?: Uint8Array | string;
  /** Client capabilities (default: authentication_failure_close + consumer_cancel_notify + a few more). */
  capabilities?: FieldTable;
  vhost?: string;
  timeoutMs?: number;
  /** Stop after sending tune-ok (do not send connection.open). */
  skipOpen?: boolean;
}

export interface HandshakeResult {
  serverProperties: Record<string, unknown>;
  mechanisms: string;
  /** What the server proposed in connection.tune. */
  tune: { channelMax: number; frameMax: number; heartbeat: number };
}

export const DEFAULT_CAPABILITIES: FieldTable = {
  authentication_failure_close: true,
  consumer_cancel_notify: true,
  publisher_confirms: true,
  "basic.nack": true,
  "connection.blocked": true,
  exchange_exchange_bindings: true,
};

export function plainResponse(user: string, password: string): Uint8Array {
  return te.encode(`\u0000${user}\u0000${password}`);
}

/** Send the protocol header and read connection.start. */
export async function startHandshake(
  w: Wire,
  timeoutMs = DEFAULT_TIMEOUT,
): Promise<{ serverProperties: Record<string, unknown>; mechanisms: string }> {
  await w.send(PROTOCOL_HEADER);
  const start = await w.expectMethod(10, 10, timeoutMs);
  start.args.octet();
  start.args.octet();
  const serverProperties = start.args.table();
  const mechanisms = start.args.longstr();
  start.args.longstr();
  return { serverProperties, mechanisms };
}

export function startOkFrame(o: HandshakeOptions = {}): Uint8Array {
  const response = o.response ?? plainResponse(o.user ?? "guest", o.password ?? "guest");
  return methodFrame(0, 10, 11, (e) =>
    e.table({
      product: "warren-wire-tests",
      platform: "Deno",
      capabilities: o.capabilities ?? DEFAULT_CAPABILITIES,
    })
      .shortstr(o.mechanism ?? "PLAIN")
      .longstr(response)
      .shortstr("en_US"));
}

export function tuneOkFrame(channelMax: number, frameMax: number, heartbeat: number): Uint8Array {
  return methodFrame(0, 10, 31, (e) => e.short(channelMax).long(frameMax).short(heartbeat));
}

export function connectionOpenFrame(vhost = "/"): Uint8Array {
  return methodFrame(0, 10, 40, (e) => e.shortstr(vhost).shortstr("").bit(false));
}

/**
 * A whole client session opening as one buffer, for tests that write without waiting for the
 * server's replies: protocol header, start-ok (PLAIN guest/guest), tune-ok (channel-max 2047,
 * frame-max 131072, no heartbeat), open "/", and channel.open on `channel`.
 */
export function pipelinedOpen(channel = 1): Uint8Array {
  return concat(
    PROTOCOL_HEADER,
    startOkFrame(),
    tuneOkFrame(2047, 131072, 0),
    connectionOpenFrame("/"),
    M.channelOpen(channel),
  );
}

/** protocol header → start/start-ok → tune/tune-ok → open/open-ok. */
export async function handshake(w: Wire, o: HandshakeOptions = {}): Promise<HandshakeResult> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT;
  const { serverProperties, mechanisms } = await startHandshake(w, timeoutMs);
  await w.send(startOkFrame(o));
  const tune = await w.expectMethod(10, 30, timeoutMs);
  const proposed = {
    channelMax: tune.args.short(),
    frameMax: tune.args.long(),
    heartbeat: tune.args.short(),
  };
  const heartbeat = o.heartbeat === "proposed" ? proposed.heartbeat : o.heartbeat ?? 0;
  await w.send(tuneOkFrame(o.channelMax ?? proposed.channelMax, o.frameMax ?? proposed.frameMax, heartbeat));
  if (!o.skipOpen) {
    await w.send(connectionOpenFrame(o.vhost ?? "/"));
    await w.expectMethod(10, 41, timeoutMs);
  }
  return { serverProperties, mechanisms, tune: proposed };
}

/** channel.open → channel.open-ok. */
export async function openChannel(w: Wire, ch: number, timeoutMs = DEFAULT_TIMEOUT): Promise<void> {
  await w.send(M.channelOpen(ch));
  await w.expectMethod(20, 11, timeoutMs);
}

/** Connect + handshake (+ optionally open channel 1). */
export async function connectOpen(
  hostname: string,
  port: number,
  o: HandshakeOptions & { channel?: number } = {},
): Promise<Wire> {
  const w = await Wire.connect(hostname, port);
  try {
    await handshake(w, o);
    if (o.channel) await openChannel(w, o.channel);
    return w;
  } catch (e) {
    await w.close();
    throw e;
  }
}

export function text(b: Uint8Array): string {
  return td.decode(b);
}
