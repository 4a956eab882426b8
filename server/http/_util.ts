/**
 * Helpers shared by the management API's routes: RabbitMQ's error bodies, request bodies, and
 * the list query parameters (pagination, filtering, sorting, `columns=`).
 *
 * @module
 */

import { AmqpError } from "../../core/mod.ts";

/** An error answered as RabbitMQ's JSON `{"error": …, "reason": …}` with its status. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  /**
   * @param status HTTP status
   * @param error RabbitMQ's short error name (`bad_request`, `not_authorised`…)
   * @param reason the human-readable reason (a string, or a list as RabbitMQ sometimes sends)
   */
  constructor(readonly status: number, readonly error: string, readonly reason: unknown) {
    super(typeof reason === "string" ? reason : JSON.stringify(reason));
  }
}

/** 404 as RabbitMQ words it. */
export function notFound(): HttpError {
  return new HttpError(404, "Object Not Found", "Not Found");
}

/** 400 `bad_request`. */
export function badRequest(reason: unknown): HttpError {
  return new HttpError(400, "bad_request", reason);
}

/** 401 `not_authorised` (RabbitMQ's spelling for refused access, after a successful login). */
export function notAuthorised(reason: string): HttpError {
  return new HttpError(401, "not_authorised", reason);
}

/**
 * A kernel error as the management API reports it: a refused access is 401 "Access refused.",
 * a missing object 404, anything else 400 with the reply text's explanation.
 */
export function fromAmqpError(err: AmqpError): HttpError {
  if (err.reply === "ACCESS_REFUSED") return notAuthorised("Access refused.");
  if (err.reply === "NOT_FOUND") return notFound();
  const text = err.message;
  const dash = text.indexOf(" - ");
  return badRequest(dash >= 0 ? text.slice(dash + 3) : text);
}

/** Runs a kernel operation, turning its AMQP errors into HTTP ones. */
export function kernel<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AmqpError) throw fromAmqpError(err);
    throw err;
  }
}

// ---------------------------------------------------------------- bodies

/** Largest request body accepted, bytes (413 above). */
export const DEFAULT_MAX_BODY = 20 * 1024 * 1024;

/**
 * The request's JSON body as an object. No body (or an empty one) is `{}`; anything that is
 * not a JSON object is 400 `not_json`; a body over `maxBody` is 413.
 */
export async function readJson(req: Request, maxBody: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > maxBody) throw tooLarge(maxBody);
  let text = "";
  if (req.body !== null) {
    const reader = req.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBody) {
        await reader.cancel().catch(() => {});
        throw tooLarge(maxBody);
      }
      chunks.push(value);
    }
    const all = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(all);
    } catch {
      throw badRequest("not_json");
    }
  }
  if (text.trim() === "") return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw badRequest("not_json");
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw badRequest("not_json");
  return v as Record<string, unknown>;
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, "bad_request", `Payload too large: over ${max} bytes`);
}

/** A boolean field; RabbitMQ also takes "true"/"false" strings. 400 `["not_boolean", v]` otherwise. */
export function boolField(body: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = body[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === "boolean") return v;
  if (v === "true") return true;
  if (v === "false") return false;
  throw badRequest(["not_boolean", v]);
}

/** A string field; 400 if it is another type, `[{key_missing,key}]` if required and absent. */
export function strField(body: Record<string, unknown>, key: string, fallback?: string): string {
  const v = body[key];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw badRequest(`[{key_missing,${key}}]`);
    return fallback;
  }
  if (typeof v !== "string") throw badRequest(`${key} must be a string`);
  return v;
}

// ---------------------------------------------------------------- list queries

/** Largest page_size RabbitMQ accepts. */
export const MAX_PAGE_SIZE = 500;

/** A row of a list endpoint: a JSON object. */
export type Row = Record<string, unknown>;

/** The value at a dotted path (`message_stats.publish`), or undefined. */
export function pathValue(row: Row, path: string): unknown {
  let v: unknown = row;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Row)[part];
  }
  return v;
}

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return -1;
  if (b === undefined || b === null) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const sa = typeof a === "string" ? a : JSON.stringify(a);
  const sb = typeof b === "string" ? b : JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Keeps only the `columns=` paths of a row (nested paths keep their nesting). */
export function selectColumns(row: Row, columns: readonly string[]): Row {
  const out: Row = {};
  for (const col of columns) {
    const v = pathValue(row, col);
    if (v === undefined) continue;
    const parts = col.split(".");
    let target = out;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = target[parts[i]];
      if (next === null || typeof next !== "object") target[parts[i]] = {};
      target = target[parts[i]] as Row;
    }
    target[parts[parts.length - 1]] = v;
  }
  return out;
}

/** The `columns=` parameter, or null. */
export function columnsOf(url: URL): string[] | null {
  const c = url.searchParams.get("columns");
  if (c === null || c === "") return null;
  return c.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** Options for {@link listResponse}. */
export interface ListOptions<T> {
  /** Sort applied when the query names none (a list of column paths). */
  defaultSort?: readonly string[];
  /**
   * The name an item is filtered by (`name=`); when given with a cheap `sortKey`, only the
   * requested page is formatted.
   */
  nameOf?(item: T): string;
  /**
   * For a `sort=` column, a function reading that column's value from an item without
   * formatting it (undefined: the column needs the formatted row). With `nameOf`, a list sorted
   * by such a column formats only the requested page.
   */
  sortKey?(column: string): ((item: T) => unknown) | undefined;
  /** The row of one item. */
  format(item: T): Row;
}

/**
 * Answers a list endpoint as RabbitMQ does: a plain array, or with `page=` the paged envelope
 * `{filtered_count, item_count, items, page, page_count, page_size, total_count}`; `name=`
 * (substring, or a regular expression with `use_regex=true`), `sort=` / `sort_reverse=`, and
 * `columns=`. With the default sort and no `sort=`, items are sorted and filtered before they
 * are formatted, and only the page is formatted, so a page of 10,000 queues is cheap.
 */
export function listResponse<T>(url: URL, items: T[], options: ListOptions<T>): unknown {
  const q = url.searchParams;
  const pageParam = q.get("page");
  const sizeParam = q.get("page_size");
  const paged = pageParam !== null;
  let page = 1;
  let pageSize = 100;
  if (paged) {
    page = Number(pageParam);
    pageSize = sizeParam === null ? 100 : Number(sizeParam);
    if (
      !Number.isInteger(page) || page < 1 || !Number.isInteger(pageSize) || pageSize < 1 ||
      pageSize > MAX_PAGE_SIZE
    ) {
      throw new HttpError(
        400,
        "invalid_pagination_parameters",
        `Invalid pagination parameters: page number ${pageParam}, page size ${sizeParam ?? "undefined"}`,
      );
    }
  }
  const total = items.length;
  const nameFilter = q.get("name");
  const sort = q.get("sort");
  const reverse = q.get("sort_reverse") === "true";
  let test: ((s: string) => boolean) | null = null;
  if (nameFilter !== null && nameFilter !== "") {
    if (q.get("use_regex") === "true") {
      let re: RegExp;
      try {
        re = new RegExp(nameFilter, "i");
      } catch {
        throw badRequest(`invalid regular expression: ${nameFilter}`);
      }
      test = (s) => re.test(s);
    } else {
      const needle = nameFilter.toLowerCase();
      test = (s) => s.toLowerCase().includes(needle);
    }
  }
  const columns = columnsOf(url);
  const finish = (rows: Row[]) => (columns ? rows.map((r) => selectColumns(r, columns)) : rows);

  let rows: Row[];
  let filteredCount: number;
  const keyOf = sort ? options.sortKey?.(sort) : undefined;
  if (keyOf && options.nameOf) {
    // Cheap path for a column read straight from the item: sorted as the formatted rows would
    // be (a stable sort with the same comparison, then reversed), and only the page formatted.
    const nameOf = options.nameOf;
    const list = test ? items.filter((i) => test!(nameOf(i))) : items;
    const keyed = list.map((item) => ({ item, key: keyOf(item) }));
    keyed.sort((a, b) => compareValues(a.key, b.key));
    if (reverse) keyed.reverse();
    filteredCount = keyed.length;
    const page_ = paged ? keyed.slice((page - 1) * pageSize, page * pageSize) : keyed;
    rows = page_.map((k) => options.format(k.item));
  } else if ((sort === null || sort === "") && options.nameOf) {
    // Cheap path: filter and sort on the name, format only what is returned.
    const nameOf = options.nameOf;
    let list = test ? items.filter((i) => test!(nameOf(i))) : items.slice();
    const keyed = list.map((item) => ({ item, key: nameOf(item) }));
    keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    if (reverse) keyed.reverse();
    list = keyed.map((k) => k.item);
    filteredCount = list.length;
    if (paged) list = list.slice((page - 1) * pageSize, page * pageSize);
    rows = list.map((i) => options.format(i));
  } else {
    rows = items.map((i) => options.format(i));
    if (test) rows = rows.filter((r) => test!(String(r.name ?? "")));
    const keys = sort ? [sort] : options.defaultSort ?? [];
    if (keys.length > 0) {
      rows.sort((a, b) => {
        for (const k of keys) {
          const c = compareValues(pathValue(a, k), pathValue(b, k));
          if (c !== 0) return c;
        }
        return 0;
      });
    }
    if (reverse) rows.reverse();
    filteredCount = rows.length;
    if (paged) rows = rows.slice((page - 1) * pageSize, page * pageSize);
  }
  if (!paged) return finish(rows);
  const pageCount = Math.ceil(filteredCount / pageSize);
  if (page > 1 && page > pageCount) {
    throw new HttpError(
      400,
      "page_out_of_range",
      `Page out of range, page: ${page} page size: ${pageSize}, len: ${filteredCount}`,
    );
  }
  return {
    filtered_count: filteredCount,
    item_count: rows.length,
    items: finish(rows),
    page,
    page_count: pageCount,
    page_size: pageSize,
    total_count: total,
  };
}
