/**
 * AMQP protocol errors: one error type and one reply-code table.
 *
 * Owns: the mapping from reply names to codes and to hard (connection) or soft (channel)
 * severity, the `NAME - explanation` reply-text format (cut to 255 bytes on a UTF-8 boundary),
 * and the helpers that raise errors with RabbitMQ's wording.
 *
 * @module
 */

/** Reply codes, by RabbitMQ's names. `hard` errors close the connection, the rest close the channel. */
export const REPLY = {
  CONTENT_TOO_LARGE: { code: 311, hard: false },
  NO_ROUTE: { code: 312, hard: false },
  NO_CONSUMERS: { code: 313, hard: false },
  CONNECTION_FORCED: { code: 320, hard: true },
  INVALID_PATH: { code: 402, hard: true },
  ACCESS_REFUSED: { code: 403, hard: false },
  NOT_FOUND: { code: 404, hard: false },
  RESOURCE_LOCKED: { code: 405, hard: false },
  PRECONDITION_FAILED: { code: 406, hard: false },
  FRAME_ERROR: { code: 501, hard: true },
  SYNTAX_ERROR: { code: 502, hard: true },
  COMMAND_INVALID: { code: 503, hard: true },
  CHANNEL_ERROR: { code: 504, hard: true },
  UNEXPECTED_FRAME: { code: 505, hard: true },
  RESOURCE_ERROR: { code: 506, hard: true },
  NOT_ALLOWED: { code: 530, hard: true },
  NOT_IMPLEMENTED: { code: 540, hard: true },
  INTERNAL_ERROR: { code: 541, hard: true },
} as const;

/** A reply name such as `"NOT_FOUND"`. */
export type ReplyName = keyof typeof REPLY;

const MAX_REPLY_TEXT_BYTES = 255;
const utf8 = new TextEncoder();

/** Cuts `text` to at most 255 UTF-8 bytes without splitting a character (reply-text is a shortstr). */
export function truncateReplyText(text: string): string {
  if (text.length * 3 <= MAX_REPLY_TEXT_BYTES) return text;
  const bytes = utf8.encode(text);
  if (bytes.length <= MAX_REPLY_TEXT_BYTES) return text;
  let end = MAX_REPLY_TEXT_BYTES;
  // Step back over UTF-8 continuation bytes (10xxxxxx) so the cut lands on a character start.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/**
 * An AMQP protocol error. The channel dispatcher fills in `classId`/`methodId` of the method
 * being handled, then turns the error into `channel.close` (soft) or `connection.close` (hard).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notFound } from "./errors.ts";
 * const err = notFound("queue", "q", "/");
 * assert.equal(err.code, 404);
 * assert.equal(err.replyText, "NOT_FOUND - no queue 'q' in vhost '/'");
 * ```
 */
export class AmqpError extends Error {
  override readonly name = "AmqpError";
  /** Numeric reply code, e.g. 404. */
  readonly code: number;
  /** True when the error closes the whole connection. */
  readonly hard: boolean;
  /** The reply name, e.g. `NOT_FOUND`. */
  readonly reply: ReplyName;
  /** Class of the method that failed; 0 when not tied to a method. */
  classId = 0;
  /** Method that failed; 0 when not tied to a method. */
  methodId = 0;

  /**
   * @param reply the reply name
   * @param explanation the text after `NAME - `
   */
  constructor(reply: ReplyName, explanation: string) {
    super(`${reply} - ${explanation}`);
    this.reply = reply;
    this.code = REPLY[reply].code;
    this.hard = REPLY[reply].hard;
  }

  /** `NAME - explanation`, at most 255 bytes. */
  get replyText(): string {
    return truncateReplyText(this.message);
  }

  /** Returns the same error marked with the method that failed (first marking wins). */
  forMethod(classId: number, methodId: number): this {
    if (this.classId === 0) {
      this.classId = classId;
      this.methodId = methodId;
    }
    return this;
  }
}

/** `NOT_FOUND - no queue 'q' in vhost '/'` (channel error 404). */
export function notFound(kind: string, name: string, vhost: string): AmqpError {
  return new AmqpError("NOT_FOUND", `no ${kind} '${name}' in vhost '${vhost}'`);
}

/** 406 PRECONDITION_FAILED with the given explanation. */
export function preconditionFailed(explanation: string): AmqpError {
  return new AmqpError("PRECONDITION_FAILED", explanation);
}

/** 403 ACCESS_REFUSED with the given explanation. */
export function accessRefused(explanation: string): AmqpError {
  return new AmqpError("ACCESS_REFUSED", explanation);
}

/** 405 RESOURCE_LOCKED for an exclusive queue owned by another connection, in RabbitMQ's words. */
export function resourceLocked(queue: string, vhost: string): AmqpError {
  return new AmqpError(
    "RESOURCE_LOCKED",
    `cannot obtain exclusive access to locked queue '${queue}' in vhost '${vhost}'. ` +
      "It could be originally declared on another connection or the exclusive property value " +
      "does not match that of the original declaration.",
  );
}

/** 406 for a redeclare whose flag or argument differs, in RabbitMQ's words. */
export function inequivalentArg(
  arg: string,
  kind: string,
  name: string,
  vhost: string,
  received: unknown,
  current: unknown,
): AmqpError {
  return preconditionFailed(
    `inequivalent arg '${arg}' for ${kind} '${name}' in vhost '${vhost}': ` +
      `received '${received}' but current is '${current}'`,
  );
}

/**
 * Formats bytes the way RabbitMQ's reply texts show them (an Erlang binary): `<<"abc">>` for
 * printable ASCII, `<<1,2,3>>` otherwise; long inputs are cut (the reply text is at most 255 bytes).
 */
export function erlangBinary(bytes: Uint8Array, max = 48): string {
  const shown = bytes.subarray(0, max);
  let printable = shown.length > 0;
  for (let i = 0; i < shown.length && printable; i++) {
    printable = shown[i] >= 32 && shown[i] < 127 && shown[i] !== 34;
  }
  const body = printable ? `"${String.fromCharCode(...shown)}"` : shown.join(",");
  return `<<${body}${bytes.length > max ? ",..." : ""}>>`;
}

/**
 * 406 for a redeclare whose argument (x-…, alternate-exchange) differs, in RabbitMQ's words:
 * `received the value '5' of type 'signedint' but current is none`.
 */
export function inequivalentArgValue(
  arg: string,
  kind: string,
  name: string,
  vhost: string,
  received: { value: unknown; type: string } | undefined,
  current: { value: unknown; type: string } | undefined,
): AmqpError {
  const show = (v: { value: unknown; type: string } | undefined) =>
    v === undefined ? "none" : `the value '${v.value}' of type '${v.type}'`;
  return preconditionFailed(
    `inequivalent arg '${arg}' for ${kind} '${name}' in vhost '${vhost}': received ${
      show(received)
    } but current is ${show(current)}`,
  );
}

/** Anything that is not an AmqpError becomes 541 INTERNAL_ERROR (the caller logs the original). */
export function toAmqpError(err: unknown): AmqpError {
  if (err instanceof AmqpError) return err;
  return new AmqpError("INTERNAL_ERROR", err instanceof Error ? err.message : String(err));
}
