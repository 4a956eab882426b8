/**
 * The stateless AMQP 0-9-1 wire codec: frames, methods, content properties and field tables.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMethod, encodeMethod, METHOD, Reader, Writer } from "./mod.ts";
 * const w = new Writer();
 * encodeMethod(w, { id: METHOD.BASIC_QOS, prefetchSize: 0, prefetchCount: 10, global: false });
 * const m = decodeMethod(new Reader().reset(w.written()));
 * assert.equal(m.id, METHOD.BASIC_QOS);
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export * from "./field_table.ts";
export * from "./frame_decoder.ts";
export * from "./methods.ts";
export * from "./properties.ts";
export * from "./reader.ts";
export * from "./writer.ts";
