/**
 * Wire constants: frame types, sizes and the protocol header.
 *
 * @module
 */

/** Frame type octets. */
export const FRAME = {
  METHOD: 1,
  HEADER: 2,
  BODY: 3,
  HEARTBEAT: 8,
} as const;

/** The octet that ends every frame. */
export const FRAME_END = 0xce;

/** Frame header (type, channel, size) plus frame-end: the bytes a frame adds to its payload. */
export const FRAME_OVERHEAD = 8;

/** Smallest frame-max a peer may negotiate. */
export const FRAME_MIN_SIZE = 4096;

/** `AMQP` 0 0 9 1: what a client must send first, and what we send back to a wrong one. */
export const PROTOCOL_HEADER: Uint8Array = Uint8Array.of(0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1);
