/**
 * FrameDecoder: turns a byte stream, split at any point, into frames.
 *
 * Owns frame boundaries, the frame-max check and the frame-end (0xCE) check. A frame that lies
 * whole inside a received chunk is handed on as a view into that chunk (no copy). Only a frame
 * split across chunks is copied, into one reassembly buffer allocated once at frame-max.
 * Payload views are valid only during the `onFrame` call.
 *
 * @module
 */

import { AmqpError, erlangBinary } from "../errors.ts";
import { FRAME_END, FRAME_OVERHEAD } from "./constants.ts";

/** Receives decoded frames. */
export interface FrameHandler {
  /**
   * Called once per frame, in order.
   * @returns false to stop decoding the rest of the chunk (the connection is closing)
   */
  onFrame(type: number, channel: number, payload: Uint8Array): boolean;
}

const HEADER_SIZE = 7;

/** Incremental frame decoder. */
export class FrameDecoder {
  #frameMax: number;
  /** Reassembly buffer for a frame split across chunks; allocated on first need. */
  #partial: Uint8Array | null = null;
  #partialLen = 0;
  /** Total size (header + payload + end) of the frame being reassembled, or 0 if unknown yet. */
  #partialNeed = 0;
  /** Set when the handler asked to stop after the reassembled frame. */
  #stopped = false;

  /** @param frameMax the largest frame accepted, header and end octet included */
  constructor(frameMax: number) {
    this.#frameMax = frameMax;
  }

  /** Changes the frame-max after `connection.tune-ok`. */
  setFrameMax(frameMax: number): void {
    this.#frameMax = frameMax;
    if (this.#partial && this.#partial.length < frameMax) {
      if (this.#partialLen === 0) this.#partial = null;
      else {
        // A frame whose size is not known yet may now be up to the new frame-max: grow, keeping its bytes.
        const next = new Uint8Array(frameMax);
        next.set(this.#partial.subarray(0, this.#partialLen));
        this.#partial = next;
      }
    }
  }

  /** Bytes buffered from an incomplete frame. */
  get buffered(): number {
    return this.#partialLen;
  }

  /**
   * Feeds a chunk; calls `handler.onFrame` for every complete frame. Throws FRAME_ERROR.
   * @returns how many bytes of `chunk` were used: all of them, unless `onFrame` returned false,
   *   in which case the caller feeds the rest again later (a partial frame at the end counts as used)
   */
  push(chunk: Uint8Array, handler: FrameHandler): number {
    let pos = 0;
    const len = chunk.length;
    if (this.#partialLen > 0) {
      pos = this.#fillPartial(chunk, handler);
      if (pos < 0) return len; // still incomplete: everything was buffered
      if (this.#stopped) {
        this.#stopped = false;
        return pos;
      }
    }
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (pos < len) {
      if (len - pos < HEADER_SIZE) {
        this.#stash(chunk, pos, len - pos, 0);
        return len;
      }
      const size = view.getUint32(pos + 3);
      const total = size + FRAME_OVERHEAD;
      this.#checkSize(view.getUint8(pos), size);
      if (len - pos < total) {
        this.#stash(chunk, pos, len - pos, total);
        return len;
      }
      if (chunk[pos + total - 1] !== FRAME_END) {
        throw badEnd(chunk[pos], chunk.subarray(pos + HEADER_SIZE, pos + total - 1), chunk[pos + total - 1]);
      }
      const more = handler.onFrame(
        chunk[pos],
        view.getUint16(pos + 1),
        chunk.subarray(pos + HEADER_SIZE, pos + HEADER_SIZE + size),
      );
      pos += total;
      if (!more) return pos;
    }
    return len;
  }

  /**
   * RabbitMQ accepts a payload of up to frame-max bytes (its reply text names frame-max - 8, the
   * spec's limit); we accept the same, so a client that works with RabbitMQ works here.
   */
  #checkSize(type: number, payloadSize: number): void {
    if (payloadSize > this.#frameMax) {
      throw new AmqpError(
        "FRAME_ERROR",
        `type ${type}, all octets = <<>>: {frame_too_large,${payloadSize},${
          this.#frameMax - FRAME_OVERHEAD
        }}`,
      );
    }
  }

  #stash(chunk: Uint8Array, pos: number, n: number, need: number): void {
    if (!this.#partial || this.#partial.length < Math.max(need, HEADER_SIZE)) {
      this.#partial = new Uint8Array(Math.max(this.#frameMax, need, HEADER_SIZE));
    }
    this.#partial.set(chunk.subarray(pos, pos + n), 0);
    this.#partialLen = n;
    this.#partialNeed = need;
  }

  /**
   * Completes the buffered frame from the chunk; returns the chunk position after it, or -1 if
   * the chunk did not complete it. Sets `#stopped` if the handler asked to stop.
   */
  #fillPartial(chunk: Uint8Array, handler: FrameHandler): number {
    const buf = this.#partial!;
    let pos = 0;
    if (this.#partialNeed === 0) {
      const take = Math.min(HEADER_SIZE - this.#partialLen, chunk.length);
      buf.set(chunk.subarray(0, take), this.#partialLen);
      this.#partialLen += take;
      pos = take;
      if (this.#partialLen < HEADER_SIZE) return -1;
      const size = new DataView(buf.buffer, buf.byteOffset).getUint32(3);
      const total = size + FRAME_OVERHEAD;
      this.#checkSize(buf[0], size);
      this.#partialNeed = total;
    }
    const need = this.#partialNeed;
    const take = Math.min(need - this.#partialLen, chunk.length - pos);
    buf.set(chunk.subarray(pos, pos + take), this.#partialLen);
    this.#partialLen += take;
    pos += take;
    if (this.#partialLen < need) return -1;
    this.#partialLen = 0;
    this.#partialNeed = 0;
    if (buf[need - 1] !== FRAME_END) throw badEnd(buf[0], buf.subarray(HEADER_SIZE, need - 1), buf[need - 1]);
    const dv = new DataView(buf.buffer, buf.byteOffset);
    const more = handler.onFrame(buf[0], dv.getUint16(1), buf.subarray(HEADER_SIZE, need - 1));
    if (!more) this.#stopped = true;
    return pos;
  }
}

function badEnd(type: number, payload: Uint8Array, octet: number): AmqpError {
  return new AmqpError(
    "FRAME_ERROR",
    `type ${type}, all octets = ${erlangBinary(payload)}: {invalid_frame_end_marker,${octet}}`,
  );
}
