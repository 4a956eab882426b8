// A tiny raw-socket AMQP 0-9-1 speaker for tests that real client libraries cannot express
// (going silent after negotiating a heartbeat, sending a bogus protocol header, ...).
//
// Frames are encoded and decoded by hand on purpose: this must not share code with the broker's codec,
// otherwise a codec bug would be invisible to the tests.

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;

/** "AMQP" 0 0 9 1 */
export const PROTOCOL_HEADER: Uint8Array = new Uint8Array([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

const te = new TextEncoder();
const td = new TextDecoder();

/** Big-endian byte writer for method arguments. */
export class ArgWriter {
  #bytes: number[] = [];
  octet(v: number): this {
    this.#bytes.push(v & 0xff);
    return this;
  }
  short(v: number): this {
    this.#bytes.push((v >>> 8) & 0xff, v & 0xff);
    return this;
  }
  long(v: number): this {
    this.#bytes.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    return this;
  }
  shortstr(s: string): this {
    const b = te.encode(s);
    if (b.length > 255) throw new RangeError("shortstr too long");
    this.octet(b.length);
    this.#bytes.push(...b);
    return this;
  }
  longstr(s: string | Uint8Array): this {
    const b = typeof s === "string" ? te.encode(s) : s;
    this.long(b.length);
    this.#bytes.push(...b);
    return this;
  }
  /** An empty field table. */
  emptyTable(): this {
    return this.long(0);
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.#bytes);
  }
}

/** Big-endian reader over method arguments. */
export class ArgReader {
  #view: DataView;
  #pos = 0;
  constructor(private readonly buf: Uint8Array) {
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  octet(): number {
    return this.#view.getUint8(this.#pos++);
  }
  short(): number {
    const v = this.#view.getUint16(this.#pos);
    this.#pos += 2;
    return v;
  }
  long(): number {
    const v = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return v;
  }
  shortstr(): string {
    const n = this.octet();
    const s = td.decode(this.buf.subarray(this.#pos, this.#pos + n));
    this.#pos += n;
    return s;
  }
  longstr(): Uint8Array {
    const n = this.long();
    const b = this.buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return b;
  }
}

/** Wraps a payload into a frame: type, channel, size, payload, frame-end. */
export function frame(type: number, channel: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(7 + payload.length + 1);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, type);
  dv.setUint16(1, channel);
  dv.setUint32(3, payload.length);
  out.set(payload, 7);
  out[out.length - 1] = FRAME_END;
  return out;
}

export function methodFrame(
  channel: number,
  classId: number,
  methodId: number,
  args: Uint8Array,
): Uint8Array {
  const payload = new Uint8Array(4 + args.length);
  const dv = new DataView(payload.buffer);
  dv.setUint16(0, classId);
  dv.setUint16(2, methodId);
  payload.set(args, 4);
  return frame(FRAME_METHOD, channel, payload);
}

/** Client-side frames needed for the handshake and a few extras. */
export const frames = {
  startOk(user = "guest", pass = "guest"): Uint8Array {
    const args = new ArgWriter()
      .emptyTable() // client-properties
      .shortstr("PLAIN")
      .longstr(`\u0000${user}\u0000${pass}`)
      .shortstr("en_US")
      .bytes();
    return methodFrame(0, 10, 11, args);
  },
  tuneOk(channelMax: number, frameMax: number, heartbeat: number): Uint8Array {
    return methodFrame(0, 10, 31, new ArgWriter().short(channelMax).long(frameMax).short(heartbeat).bytes());
  },
  open(vhost = "/"): Uint8Array {
    return methodFrame(0, 10, 40, new ArgWriter().shortstr(vhost).shortstr("").octet(0).bytes());
  },
  close(code = 200, text = "Goodbye"): Uint8Array {
    return methodFrame(0, 10, 50, new ArgWriter().short(code).shortstr(text).short(0).short(0).bytes());
  },
  closeOk(): Uint8Array {
    return methodFrame(0, 10, 51, new Uint8Array(0));
  },
  heartbeat(): Uint8Array {
    return frame(FRAME_HEARTBEAT, 0, new Uint8Array(0));
  },
};

export interface Frame {
  type: number;
  channel: number;
  payload: Uint8Array;
}

export interface Method {
  classId: number;
  methodId: number;
  args: ArgReader;
}

export function parseMethod(f: Frame): Method {
  if (f.type !== FRAME_METHOD) throw new Error(`expected a method frame, got frame type ${f.type}`);
  const dv = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength);
  return { classId: dv.getUint16(0), methodId: dv.getUint16(2), args: new ArgReader(f.payload.subarray(4)) };
}

export interface Tune {
  channelMax: number;
  frameMax: number;
  heartbeat: number;
}

export interface CloseResult {
  /** true if the peer closed the socket (EOF or reset) before the deadline. */
  closed: boolean;
  elapsedMs: number;
  /** Frames received while waiting. */
  frames: Frame[];
  /** Any non-frame bytes received, e.g. a protocol header sent back. */
  bytes: Uint8Array;
}

class TimeoutError extends Error {}

/**
 * A raw TCP connection with a single background reader (so no read op is ever left dangling for
 * Deno's op sanitizer) and deadline-bounded reads.
 */
export class RawConnection {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  #eof = false;
  #wake: (() => void) | null = null;
  #readLoop: Promise<void>;
  #closed = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#readLoop = this.#pump();
  }

  static async connect(port: number, hostname = "127.0.0.1"): Promise<RawConnection> {
    const conn = await Deno.connect({ port, hostname, transport: "tcp" });
    return new RawConnection(conn);
  }

  get eof(): boolean {
    return this.#eof;
  }

  async #pump(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        const next = new Uint8Array(this.#buf.length + n);
        next.set(this.#buf);
        next.set(chunk.subarray(0, n), this.#buf.length);
        this.#buf = next;
        this.#notify();
      }
    } catch {
      // ECONNRESET, or our own close(): both mean "no more data".
    }
    this.#eof = true;
    this.#notify();
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /** Waits until `ready()` is true, EOF, or the deadline. Returns false on timeout. */
  async #waitUntil(ready: () => boolean, deadline: number): Promise<boolean> {
    while (!ready() && !this.#eof) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return true;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  /** Reads exactly n bytes; null on EOF before n bytes; throws on timeout. */
  async readBytes(n: number, timeoutMs = 5000): Promise<Uint8Array | null> {
    const ok = await this.#waitUntil(() => this.#buf.length >= n, Date.now() + timeoutMs);
    if (!ok) throw new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${n} bytes`);
    if (this.#buf.length < n) return null;
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  /** Everything received so far that has not been consumed. */
  takeBuffered(): Uint8Array {
    const out = this.#buf;
    this.#buf = new Uint8Array(0);
    return out;
  }

  #frameLength(): number | null {
    if (this.#buf.length < 7) return null;
    const size = new DataView(this.#buf.buffer, this.#buf.byteOffset).getUint32(3);
    return 7 + size + 1;
  }

  /** Reads one frame; null on EOF; throws on timeout or a malformed frame. */
  async readFrame(timeoutMs = 5000): Promise<Frame | null> {
    const deadline = Date.now() + timeoutMs;
    const ok = await this.#waitUntil(() => {
      const len = this.#frameLength();
      return len !== null && this.#buf.length >= len;
    }, deadline);
    if (!ok) throw new TimeoutError(`timed out after ${timeoutMs} ms waiting for a frame`);
    const len = this.#frameLength();
    if (len === null || this.#buf.length < len) return null;
    const raw = this.#buf.slice(0, len);
    this.#buf = this.#buf.slice(len);
    if (raw[len - 1] !== FRAME_END) {
      throw new Error(`frame-end octet is 0x${raw[len - 1].toString(16)}, expected 0xce`);
    }
    const dv = new DataView(raw.buffer);
    return { type: raw[0], channel: dv.getUint16(1), payload: raw.slice(7, len - 1) };
  }

  /** Reads frames, skipping heartbeats, until a method frame arrives. */
  async readMethod(timeoutMs = 5000): Promise<Method & { channel: number }> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const f = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (f === null) throw new Error("connection closed while waiting for a method frame");
      if (f.type === FRAME_HEARTBEAT) continue;
      return { ...parseMethod(f), channel: f.channel };
    }
  }

  async expectMethod(classId: number, methodId: number, timeoutMs = 5000): Promise<ArgReader> {
    const m = await this.readMethod(timeoutMs);
    if (m.classId !== classId || m.methodId !== methodId) {
      let detail = "";
      if ((m.classId === 10 && m.methodId === 50) || (m.classId === 20 && m.methodId === 40)) {
        detail = ` (${m.args.short()} ${m.args.shortstr()})`;
      }
      throw new Error(`expected method ${classId}.${methodId}, got ${m.classId}.${m.methodId}${detail}`);
    }
    return m.args;
  }

  /**
   * Runs the opening handshake up to open-ok. `tuneOk` picks the values sent back in tune-ok from
   * the server's proposal (defaults to echoing it).
   */
  async handshake(opts: { tuneOk?: (t: Tune) => Tune; user?: string; pass?: string } = {}): Promise<Tune> {
    await this.write(PROTOCOL_HEADER);
    await this.expectMethod(10, 10); // connection.start
    await this.write(frames.startOk(opts.user, opts.pass));
    const a = await this.expectMethod(10, 30); // connection.tune
    const tune: Tune = { channelMax: a.short(), frameMax: a.long(), heartbeat: a.short() };
    const reply = opts.tuneOk ? opts.tuneOk(tune) : tune;
    await this.write(frames.tuneOk(reply.channelMax, reply.frameMax, reply.heartbeat));
    await this.write(frames.open("/"));
    await this.expectMethod(10, 41); // connection.open-ok
    return tune;
  }

  /**
   * Sends nothing and waits (bounded) for the peer to close the socket, collecting whatever arrives.
   */
  async waitForClose(timeoutMs: number): Promise<CloseResult> {
    const start = Date.now();
    const deadline = start + timeoutMs;
    const got: Frame[] = [];
    let bytes: Uint8Array = new Uint8Array(0);
    while (true) {
      let f: Frame | null;
      try {
        f = await this.readFrame(Math.max(1, deadline - Date.now()));
      } catch (e) {
        if (e instanceof TimeoutError) {
          return { closed: false, elapsedMs: Date.now() - start, frames: got, bytes };
        }
        // Not frame-shaped (e.g. a protocol header): keep the raw bytes and wait for EOF.
        bytes = this.takeBuffered();
        const ok = await this.#waitUntil(() => false, deadline);
        return { closed: ok, elapsedMs: Date.now() - start, frames: got, bytes };
      }
      if (f === null) {
        bytes = this.takeBuffered();
        return { closed: true, elapsedMs: Date.now() - start, frames: got, bytes };
      }
      got.push(f);
    }
  }

  /** Waits (bounded) for EOF without interpreting the bytes received. */
  async waitForEof(timeoutMs: number): Promise<{ closed: boolean; elapsedMs: number; bytes: Uint8Array }> {
    const start = Date.now();
    const closed = await this.#waitUntil(() => false, start + timeoutMs);
    return { closed, elapsedMs: Date.now() - start, bytes: this.takeBuffered() };
  }

  /** Closes our side and waits for the reader to finish. Safe to call more than once. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#conn.close();
      } catch {
        // already closed
      }
    }
    await this.#readLoop;
  }
}
