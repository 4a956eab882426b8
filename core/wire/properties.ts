/**
 * The content header's 14 basic properties.
 *
 * Owns the property-flags bit layout and the decode/encode of the property list. The broker keeps
 * a message's properties as the raw bytes it received (flags + list), so a publish that passes
 * through untouched is never decoded; these functions run only where a property is needed.
 *
 * @module
 */

import type { FieldTable } from "./field_table.ts";
import { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

/** The basic class's content properties; absent ones are `undefined`. */
export interface BasicProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: FieldTable;
  deliveryMode?: number;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  expiration?: string;
  messageId?: string;
  /** Seconds since the epoch (AMQP timestamps are whole seconds). */
  timestamp?: number;
  type?: string;
  userId?: string;
  appId?: string;
  clusterId?: string;
}

/** Property-flag bits, highest first, in wire order. */
export const PROPERTY_FLAG = {
  CONTENT_TYPE: 1 << 15,
  CONTENT_ENCODING: 1 << 14,
  HEADERS: 1 << 13,
  DELIVERY_MODE: 1 << 12,
  PRIORITY: 1 << 11,
  CORRELATION_ID: 1 << 10,
  REPLY_TO: 1 << 9,
  EXPIRATION: 1 << 8,
  MESSAGE_ID: 1 << 7,
  TIMESTAMP: 1 << 6,
  TYPE: 1 << 5,
  USER_ID: 1 << 4,
  APP_ID: 1 << 3,
  CLUSTER_ID: 1 << 2,
} as const;

/** Reads the property flags and list at the reader's position. Bit 0 (continuation) is ignored. */
export function readProperties(r: Reader): BasicProperties {
  const f = r.short();
  const p: BasicProperties = {};
  if (f & PROPERTY_FLAG.CONTENT_TYPE) p.contentType = r.shortstr();
  if (f & PROPERTY_FLAG.CONTENT_ENCODING) p.contentEncoding = r.shortstr();
  if (f & PROPERTY_FLAG.HEADERS) p.headers = r.table();
  if (f & PROPERTY_FLAG.DELIVERY_MODE) p.deliveryMode = r.octet();
  if (f & PROPERTY_FLAG.PRIORITY) p.priority = r.octet();
  if (f & PROPERTY_FLAG.CORRELATION_ID) p.correlationId = r.shortstr();
  if (f & PROPERTY_FLAG.REPLY_TO) p.replyTo = r.shortstr();
  if (f & PROPERTY_FLAG.EXPIRATION) p.expiration = r.shortstr();
  if (f & PROPERTY_FLAG.MESSAGE_ID) p.messageId = r.shortstr();
  if (f & PROPERTY_FLAG.TIMESTAMP) p.timestamp = r.longlong();
  if (f & PROPERTY_FLAG.TYPE) p.type = r.shortstr();
  if (f & PROPERTY_FLAG.USER_ID) p.userId = r.shortstr();
  if (f & PROPERTY_FLAG.APP_ID) p.appId = r.shortstr();
  if (f & PROPERTY_FLAG.CLUSTER_ID) p.clusterId = r.shortstr();
  return p;
}

/** Decodes raw property bytes (flags + list), as kept on a stored message. */
export function decodeProperties(raw: Uint8Array): BasicProperties {
  return readProperties(new Reader().reset(raw));
}

/** Writes property flags and list for the properties that are set. */
export function writeProperties(w: Writer, p: BasicProperties): void {
  let f = 0;
  if (p.contentType !== undefined) f |= PROPERTY_FLAG.CONTENT_TYPE;
  if (p.contentEncoding !== undefined) f |= PROPERTY_FLAG.CONTENT_ENCODING;
  if (p.headers !== undefined) f |= PROPERTY_FLAG.HEADERS;
  if (p.deliveryMode !== undefined) f |= PROPERTY_FLAG.DELIVERY_MODE;
  if (p.priority !== undefined) f |= PROPERTY_FLAG.PRIORITY;
  if (p.correlationId !== undefined) f |= PROPERTY_FLAG.CORRELATION_ID;
  if (p.replyTo !== undefined) f |= PROPERTY_FLAG.REPLY_TO;
  if (p.expiration !== undefined) f |= PROPERTY_FLAG.EXPIRATION;
  if (p.messageId !== undefined) f |= PROPERTY_FLAG.MESSAGE_ID;
  if (p.timestamp !== undefined) f |= PROPERTY_FLAG.TIMESTAMP;
  if (p.type !== undefined) f |= PROPERTY_FLAG.TYPE;
  if (p.userId !== undefined) f |= PROPERTY_FLAG.USER_ID;
  if (p.appId !== undefined) f |= PROPERTY_FLAG.APP_ID;
  if (p.clusterId !== undefined) f |= PROPERTY_FLAG.CLUSTER_ID;
  w.short(f);
  if (p.contentType !== undefined) w.shortstr(p.contentType);
  if (p.contentEncoding !== undefined) w.shortstr(p.contentEncoding);
  if (p.headers !== undefined) w.table(p.headers);
  if (p.deliveryMode !== undefined) w.octet(p.deliveryMode);
  if (p.priority !== undefined) w.octet(p.priority);
  if (p.correlationId !== undefined) w.shortstr(p.correlationId);
  if (p.replyTo !== undefined) w.shortstr(p.replyTo);
  if (p.expiration !== undefined) w.shortstr(p.expiration);
  if (p.messageId !== undefined) w.shortstr(p.messageId);
  if (p.timestamp !== undefined) w.longlong(p.timestamp);
  if (p.type !== undefined) w.shortstr(p.type);
  if (p.userId !== undefined) w.shortstr(p.userId);
  if (p.appId !== undefined) w.shortstr(p.appId);
  if (p.clusterId !== undefined) w.shortstr(p.clusterId);
}

/** Field-table type tags and the fixed size of their value (-1: variable). */
const FIXED_SIZE: Record<number, number> = {
  0x74: 1, // t
  0x62: 1, // b
  0x42: 1, // B
  0x73: 2, // s
  0x75: 2, // u
  0x49: 4, // I
  0x69: 4, // i
  0x6c: 8, // l
  0x4c: 8, // L
  0x66: 4, // f
  0x64: 8, // d
  0x44: 5, // D
  0x54: 8, // T
  0x56: 0, // V
};
/** Nesting deeper than this is refused: a reader of the message would recurse that deep. */
const MAX_DEPTH = 64;

/**
 * Checks raw property bytes (flags + list) without decoding them: every property the flags
 * promise is present, tables are well formed, nothing trails. Returns what is wrong, or null.
 */
export function propertiesProblem(raw: Uint8Array): string | null {
  if (raw.length < 2) return "missing property flags";
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const flags = v.getUint16(0);
  if (flags === 0) return raw.length === 2 ? null : `${raw.length - 2} unexpected bytes after the properties`;
  let pos = 2;
  const end = raw.length;
  const shortstr = (): boolean => {
    if (pos + 1 > end) return false;
    pos += 1 + raw[pos];
    return pos <= end;
  };
  const value = (depth: number): boolean => {
    if (pos + 1 > end) return false;
    const tag = raw[pos++];
    const fixed = FIXED_SIZE[tag];
    if (fixed !== undefined) {
      pos += fixed;
      return pos <= end;
    }
    if (tag === 0x53 || tag === 0x78) { // S, x
      if (pos + 4 > end) return false;
      pos += 4 + v.getUint32(pos);
      return pos <= end;
    }
    if (tag === 0x46) return table(depth + 1); // F
    if (tag === 0x41) { // A
      if (depth >= MAX_DEPTH || pos + 4 > end) return false;
      const stop = pos + 4 + v.getUint32(pos);
      pos += 4;
      if (stop > end) return false;
      while (pos < stop) if (!value(depth + 1)) return false;
      return pos === stop;
    }
    return false;
  };
  const table = (depth: number): boolean => {
    if (depth >= MAX_DEPTH || pos + 4 > end) return false;
    const stop = pos + 4 + v.getUint32(pos);
    pos += 4;
    if (stop > end) return false;
    while (pos < stop) {
      if (!shortstr() || !value(depth)) return false;
    }
    return pos === stop;
  };
  if (flags & 1) return "property flags continuation is not supported";
  if (flags & PROPERTY_FLAG.CONTENT_TYPE && !shortstr()) return "bad content-type";
  if (flags & PROPERTY_FLAG.CONTENT_ENCODING && !shortstr()) return "bad content-encoding";
  if (flags & PROPERTY_FLAG.HEADERS && !table(0)) return "bad headers table";
  if (flags & PROPERTY_FLAG.DELIVERY_MODE && ++pos > end) return "missing delivery-mode";
  if (flags & PROPERTY_FLAG.PRIORITY && ++pos > end) return "missing priority";
  if (flags & PROPERTY_FLAG.CORRELATION_ID && !shortstr()) return "bad correlation-id";
  if (flags & PROPERTY_FLAG.REPLY_TO && !shortstr()) return "bad reply-to";
  if (flags & PROPERTY_FLAG.EXPIRATION && !shortstr()) return "bad expiration";
  if (flags & PROPERTY_FLAG.MESSAGE_ID && !shortstr()) return "bad message-id";
  if (flags & PROPERTY_FLAG.TIMESTAMP && (pos += 8) > end) return "missing timestamp";
  if (flags & PROPERTY_FLAG.TYPE && !shortstr()) return "bad type";
  if (flags & PROPERTY_FLAG.USER_ID && !shortstr()) return "bad user-id";
  if (flags & PROPERTY_FLAG.APP_ID && !shortstr()) return "bad app-id";
  if (flags & PROPERTY_FLAG.CLUSTER_ID && !shortstr()) return "bad cluster-id";
  if (pos !== end) return `${end - pos} unexpected bytes after the properties`;
  return null;
}
