/**
 * Definitions: the broker's topology and users as RabbitMQ's definitions JSON.
 *
 * `exportDefinitions()` gives what `GET /api/definitions` returns and `importDefinitions()` takes
 * what `POST /api/definitions` (or `rabbitmqadmin import`) sends, in RabbitMQ's format and field
 * names, so a file exported from RabbitMQ imports into Warren and back.
 *
 * As RabbitMQ 3.10 does (checked against a real node), an export lists every queue but the
 * exclusive ones, every exchange but the default one and the built-in `amq.*` ones (internal and
 * transient ones included), and every explicit binding except those to exclusive queues and
 * those of the default exchange. `durableOnly: true` keeps only durable queues and exchanges,
 * and the bindings between them (what survives a restart).
 *
 * Arguments are AMQP field tables; in JSON they are numbers, strings, booleans, null, arrays and
 * objects, as RabbitMQ writes them. On import, integers become int64 (RabbitMQ's `long`) and
 * other numbers doubles.
 *
 * Import is idempotent, as RabbitMQ's: an object that already exists is left as it is (no
 * equivalence check), and `amq.*` exchanges in the file are skipped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Broker } from "../core/mod.ts";
 * import { DEFAULT_PLUGINS } from "../plugins/mod.ts";
 * import { exportDefinitions, importDefinitions } from "./definitions.ts";
 * const a = new Broker();
 * for (const p of DEFAULT_PLUGINS) a.register(p);
 * a.addVHost("/").declareQueue({
 *   name: "jobs", passive: false, durable: true, exclusive: false, autoDelete: false, args: {}, owner: null,
 * });
 * const b = new Broker();
 * for (const p of DEFAULT_PLUGINS) b.register(p);
 * importDefinitions(b, exportDefinitions(a));
 * assert.ok(b.vhosts.get("/")?.queues.has("jobs"));
 * ```
 *
 * @module
 */

import {
  AmqpError,
  type Broker,
  type FieldTable,
  type FieldValue,
  int64,
  type Policy,
  PolicyError,
  TypedField,
  type VHost,
} from "../core/mod.ts";

/** A user in a definitions file. */
export interface UserDefinition {
  name: string;
  /** RabbitMQ's base64 salted hash; "" when the store cannot give one (see {@link userCredentials}). */
  password_hash?: string;
  hashing_algorithm?: string;
  /** Accepted on import (RabbitMQ accepts a clear password in an imported file too). */
  password?: string;
  /** An array since RabbitMQ 3.9; a comma-separated string before. */
  tags: string[] | string;
  limits?: Record<string, unknown>;
}

/** A vhost in a definitions file. */
export interface VHostDefinition {
  name: string;
  description?: string;
  tags?: string[];
  limits?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

/** A permission in a definitions file. */
export interface PermissionDefinition {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

/** A topic permission in a definitions file. */
export interface TopicPermissionDefinition {
  user: string;
  vhost: string;
  exchange: string;
  write: string;
  read: string;
}

/** A runtime parameter in a definitions file. */
export interface ParameterDefinition {
  vhost: string;
  component: string;
  name: string;
  value: unknown;
}

/** A global parameter in a definitions file. */
export interface GlobalParameterDefinition {
  name: string;
  value: unknown;
}

/** A policy in a definitions file. */
export interface PolicyDefinition {
  vhost: string;
  name: string;
  pattern: string;
  "apply-to": string;
  definition: Record<string, unknown>;
  priority: number;
}

/** A policy in RabbitMQ's JSON shape, as definitions and `/api/policies` show it. */
export function policyDefinition(p: Policy): PolicyDefinition {
  return {
    vhost: p.vhost,
    name: p.name,
    pattern: p.pattern,
    "apply-to": p.applyTo,
    definition: { ...p.definition },
    priority: p.priority,
  };
}

/** JSON form of an AMQP field value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** JSON form of an AMQP field table. */
export type JsonTable = { [key: string]: JsonValue };

/** A queue in a definitions file. */
export interface QueueDefinition {
  name: string;
  vhost: string;
  durable: boolean;
  auto_delete: boolean;
  arguments: JsonTable;
  /** RabbitMQ 3.10+ may also write the queue type here (x-queue-type is in `arguments`). */
  type?: string;
}

/** An exchange in a definitions file. */
export interface ExchangeDefinition {
  name: string;
  vhost: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: JsonTable;
}

/** A binding in a definitions file. */
export interface BindingDefinition {
  source: string;
  vhost: string;
  destination: string;
  destination_type: "queue" | "exchange";
  routing_key: string;
  arguments: JsonTable;
}

/** RabbitMQ's definitions document. Every list is optional on import. */
export interface Definitions {
  rabbit_version?: string;
  rabbitmq_version?: string;
  product_name?: string;
  product_version?: string;
  users?: UserDefinition[];
  vhosts?: VHostDefinition[];
  permissions?: PermissionDefinition[];
  topic_permissions?: TopicPermissionDefinition[];
  parameters?: ParameterDefinition[];
  global_parameters?: GlobalParameterDefinition[];
  policies?: PolicyDefinition[];
  queues?: QueueDefinition[];
  exchanges?: ExchangeDefinition[];
  bindings?: BindingDefinition[];
}

/** The RabbitMQ version Warren's API and definitions follow (management clients read it). */
export const RABBIT_VERSION = "3.10.8";

/** Product name reported by the API and in definitions. */
export const PRODUCT_NAME = "Warren";

/** A definitions file that cannot be imported; the HTTP API answers 400 with this message. */
export class DefinitionsError extends Error {
  override readonly name = "DefinitionsError";
}

// ---------------------------------------------------------------- field values <-> JSON

const utf8Decoder = new TextDecoder();

/** An AMQP field value as RabbitMQ writes it in JSON. */
export function fieldValueToJson(v: FieldValue): JsonValue {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (v instanceof TypedField) {
    const n = v.valueOf();
    return Number.isFinite(n) ? n : null;
  }
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (v instanceof Uint8Array) return utf8Decoder.decode(v);
  if (Array.isArray(v)) return v.map(fieldValueToJson);
  return fieldTableToJson(v);
}

/** An AMQP field table as RabbitMQ writes it in JSON. */
export function fieldTableToJson(t: FieldTable): JsonTable {
  const out: JsonTable = {};
  for (const k of Object.keys(t)) out[k] = fieldValueToJson(t[k]);
  return out;
}

/**
 * A JSON value as an AMQP field value, as RabbitMQ converts it: integers become int64 (`long`),
 * other numbers doubles. Throws a TypeError naming `where` for anything else.
 */
export function jsonToFieldValue(v: unknown, where = "value"): FieldValue {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new TypeError(`${where}: not a finite number`);
    return Number.isInteger(v) ? int64(v) : v;
  }
  if (Array.isArray(v)) return v.map((x, i) => jsonToFieldValue(x, `${where}[${i}]`));
  if (typeof v === "object") return jsonToFieldTable(v, where);
  throw new TypeError(`${where}: unsupported value ${typeof v}`);
}

/** A JSON object as an AMQP field table (see {@link jsonToFieldValue}). */
export function jsonToFieldTable(v: unknown, where = "arguments"): FieldTable {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new TypeError(`${where}: not an object`);
  const out: FieldTable = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    out[k] = jsonToFieldValue(x, `${where}.${k}`);
  }
  return out;
}

// ---------------------------------------------------------------- seams with the user store

/**
 * A user's stored credentials as RabbitMQ's definitions write them. The seam for the salted-hash
 * user store: until the UserStore exposes its hash (`credentials(name)`), this exports an empty
 * hash, which RabbitMQ reads as "no password" (the user cannot log in with one).
 */
export function userCredentials(
  broker: Broker,
  name: string,
): { password_hash: string; hashing_algorithm: string } {
  const store = broker.users as unknown as {
    credentials?(name: string): { passwordHash: string; hashingAlgorithm: string } | undefined;
  };
  const c = store.credentials?.(name);
  if (c) return { password_hash: c.passwordHash, hashing_algorithm: c.hashingAlgorithm };
  return { password_hash: "", hashing_algorithm: "rabbit_password_hashing_sha256" };
}

/**
 * Creates or replaces a user from a definitions entry. A clear `password` is used as is; a
 * `password_hash` goes to the store's `putHashed()` when it has one. Otherwise (or for an empty
 * hash) the user gets a random password nobody knows: it exists, with its tags, but cannot log
 * in until its password is set, like a passwordless user in RabbitMQ.
 */
export function putUser(broker: Broker, u: UserDefinition): void {
  const tags = parseTags(u.tags);
  const loopbackOnly = broker.users.get(u.name)?.loopbackOnly ?? u.name === "guest";
  const store = broker.users as unknown as {
    putHashed?(
      name: string,
      hash: string,
      algorithm: string,
      options: { tags: string[]; loopbackOnly: boolean },
    ): void;
  };
  if (typeof u.password === "string") {
    broker.users.put(u.name, u.password, { tags, loopbackOnly });
  } else if (u.password_hash && store.putHashed) {
    store.putHashed(u.name, u.password_hash, u.hashing_algorithm ?? "rabbit_password_hashing_sha256", {
      tags,
      loopbackOnly,
    });
  } else {
    const random = crypto.getRandomValues(new Uint8Array(24));
    broker.users.put(u.name, btoa(String.fromCharCode(...random)), { tags, loopbackOnly });
  }
}

/** Tags as an array, from RabbitMQ's array or its older comma-separated string. */
export function parseTags(tags: unknown): string[] {
  if (Array.isArray(tags)) return tags.map(String).filter((t) => t !== "");
  if (typeof tags === "string") return tags.split(",").map((t) => t.trim()).filter((t) => t !== "");
  return [];
}

/** The kernel's permission table, as this module uses it (see {@link permissionTable}). */
export interface PermissionTable {
  set(user: string, vhost: string, patterns: { configure: string; write: string; read: string }): void;
  clear(user: string, vhost: string): boolean;
  get(user: string, vhost: string): PermissionDefinition | undefined;
  list(filter?: { user?: string; vhost?: string }): PermissionDefinition[];
  allows?(
    user: string,
    vhost: string,
    access: "configure" | "write" | "read",
    kind: "queue" | "exchange",
    name: string,
  ): boolean;
}

/**
 * The broker's permission table (`broker.permissions`), or undefined while the kernel has
 * none: the seam with the permissions work. Without a table every user may configure, write
 * and read everything in every vhost, and that is what is listed and exported.
 */
export function permissionTable(broker: Broker): PermissionTable | undefined {
  const p = (broker as unknown as { permissions?: PermissionTable }).permissions;
  return p && typeof p.list === "function" ? p : undefined;
}

/** Permissions as the kernel holds them (see {@link permissionTable}). */
export function listPermissions(
  broker: Broker,
  filter: { user?: string; vhost?: string } = {},
): PermissionDefinition[] {
  const table = permissionTable(broker);
  if (table) {
    return table.list(filter).map((p) => ({
      user: p.user,
      vhost: p.vhost,
      configure: p.configure,
      write: p.write,
      read: p.read,
    }));
  }
  const out: PermissionDefinition[] = [];
  for (const user of broker.users.names()) {
    if (filter.user !== undefined && user !== filter.user) continue;
    for (const vhost of broker.vhosts.keys()) {
      if (filter.vhost !== undefined && vhost !== filter.vhost) continue;
      out.push({ user, vhost, configure: ".*", write: ".*", read: ".*" });
    }
  }
  return out;
}

/** Sets one permission entry when the kernel can store it (see {@link permissionTable}). */
export function putPermission(broker: Broker, p: PermissionDefinition): void {
  permissionTable(broker)?.set(p.user, p.vhost, { configure: p.configure, write: p.write, read: p.read });
}

// ---------------------------------------------------------------- export

/** True for exchanges an export leaves out: the default exchange and the `amq.*` ones. */
export function isBuiltInExchange(name: string): boolean {
  return name === "" || name.startsWith("amq.");
}

function byVhostName<T extends { vhost: string; name: string }>(a: T, b: T): number {
  return a.vhost < b.vhost ? -1 : a.vhost > b.vhost ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Bindings of one vhost in RabbitMQ's JSON shape (the default exchange's implicit ones left out). */
export function vhostBindings(v: VHost): BindingDefinition[] {
  const out: BindingDefinition[] = [];
  for (const ex of v.exchanges.values()) {
    if (ex.name === "") continue;
    for (const b of ex.router.bindings()) {
      out.push({
        source: ex.name,
        vhost: v.name,
        destination: b.destination.name,
        destination_type: b.destination.kind,
        routing_key: b.routingKey,
        arguments: fieldTableToJson(b.args),
      });
    }
  }
  return out;
}

/**
 * The broker's definitions, in RabbitMQ's format.
 * @param options `durableOnly`: only durable queues and exchanges and the bindings between
 *   them. @default false (RabbitMQ's export: every non-exclusive queue)
 */
export function exportDefinitions(broker: Broker, options: { durableOnly?: boolean } = {}): Definitions {
  const durableOnly = options.durableOnly ?? false;
  const users: UserDefinition[] = broker.users.names().sort().map((name) => ({
    name,
    ...userCredentials(broker, name),
    tags: [...(broker.users.get(name)?.tags ?? [])],
    limits: {},
  }));
  const vhostNames = [...broker.vhosts.keys()].sort();
  const queues: QueueDefinition[] = [];
  const exchanges: ExchangeDefinition[] = [];
  const bindings: BindingDefinition[] = [];
  for (const name of vhostNames) {
    const v = broker.vhosts.get(name)!;
    const exported = new Set<string>(); // "q:name" / "e:name" of exported objects and built-ins
    for (const q of v.queues.values()) {
      const o = q.options;
      if (o.exclusive || (durableOnly && !o.durable)) continue;
      exported.add(`q:${q.name}`);
      queues.push({
        name: q.name,
        vhost: name,
        durable: o.durable,
        auto_delete: o.autoDelete,
        arguments: fieldTableToJson(o.args),
      });
    }
    for (const ex of v.exchanges.values()) {
      const o = ex.options;
      if (durableOnly && !o.durable) continue;
      exported.add(`e:${ex.name}`);
      if (isBuiltInExchange(ex.name)) continue;
      exchanges.push({
        name: ex.name,
        vhost: name,
        type: ex.type,
        durable: o.durable,
        auto_delete: o.autoDelete,
        internal: o.internal,
        arguments: fieldTableToJson(o.args),
      });
    }
    for (const b of vhostBindings(v)) {
      const dest = `${b.destination_type === "queue" ? "q" : "e"}:${b.destination}`;
      if (exported.has(`e:${b.source}`) && exported.has(dest)) bindings.push(b);
    }
  }
  queues.sort(byVhostName);
  exchanges.sort(byVhostName);
  bindings.sort((a, b) =>
    byVhostName({ vhost: a.vhost, name: a.source }, { vhost: b.vhost, name: b.source }) ||
    cmp(a.destination_type, b.destination_type) || cmp(a.destination, b.destination) ||
    cmp(a.routing_key, b.routing_key) || cmp(JSON.stringify(a.arguments), JSON.stringify(b.arguments))
  );
  return {
    rabbit_version: RABBIT_VERSION,
    rabbitmq_version: RABBIT_VERSION,
    product_name: PRODUCT_NAME,
    product_version: RABBIT_VERSION,
    users,
    vhosts: vhostNames.map((name) => ({ name })),
    permissions: listPermissions(broker).sort((a, b) => cmp(a.user, b.user) || cmp(a.vhost, b.vhost)),
    topic_permissions: [],
    parameters: [],
    global_parameters: [],
    policies: broker.policies().map(policyDefinition),
    queues,
    exchanges,
    bindings,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------- import

/** The owner token of objects declared by an import (never exclusive). */
const IMPORT_OWNER = {};

function list<T>(defs: Record<string, unknown>, key: string): T[] {
  const v = defs[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new DefinitionsError(`'${key}' must be a list`);
  for (const item of v) {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw new DefinitionsError(`'${key}' must be a list of objects`);
    }
  }
  return v as T[];
}

function str(o: Record<string, unknown>, key: string, what: string, fallback?: string): string {
  const v = o[key] ?? fallback;
  if (typeof v !== "string") throw new DefinitionsError(`${what}: '${key}' must be a string`);
  return v;
}

function bool(o: Record<string, unknown>, key: string, what: string, fallback: boolean): boolean {
  const v = o[key] ?? fallback;
  if (typeof v !== "boolean") throw new DefinitionsError(`${what}: '${key}' must be a boolean`);
  return v;
}

function args(o: Record<string, unknown>, what: string): FieldTable {
  try {
    return jsonToFieldTable(o.arguments, "arguments");
  } catch (err) {
    throw new DefinitionsError(`${what}: ${(err as Error).message}`);
  }
}

/** How {@link importDefinitions} treats objects the kernel refuses. */
export interface ImportOptions {
  /**
   * Restoring the broker's own definitions at start-up: an exchange whose type's plugin is not
   * loaded is restored anyway (it keeps its bindings and refuses publishes until the plugin is
   * back), and the bindings of such exchanges too.
   */
  recovery?: boolean;
  /** Called for an object that cannot be declared, instead of throwing: the import goes on. */
  onError?: (what: string, err: Error) => void;
}

/**
 * Imports definitions: users, vhosts (created as needed), permissions (when the kernel stores
 * them), exchanges, queues, then bindings. Checks the whole document's shape before changing
 * anything; a declare the kernel refuses (unknown exchange type, bad argument) throws a
 * {@link DefinitionsError} naming the object, leaving what was imported before it.
 * Policies are validated and applied as `broker.setPolicy` does (before queues and exchanges, as
 * RabbitMQ imports them). Parameters are not supported yet: a non-empty list is logged and skipped.
 */
export function importDefinitions(broker: Broker, defs: Definitions, options: ImportOptions = {}): void {
  if (defs === null || typeof defs !== "object" || Array.isArray(defs)) {
    throw new DefinitionsError("definitions must be a JSON object");
  }
  const d = defs as Record<string, unknown>;
  const users = list<Record<string, unknown>>(d, "users");
  const vhosts = list<Record<string, unknown>>(d, "vhosts");
  const permissions = list<Record<string, unknown>>(d, "permissions");
  const queues = list<Record<string, unknown>>(d, "queues");
  const exchanges = list<Record<string, unknown>>(d, "exchanges");
  const bindings = list<Record<string, unknown>>(d, "bindings");
  const policies = list<Record<string, unknown>>(d, "policies");
  for (const key of ["topic_permissions", "parameters", "global_parameters"]) {
    list(d, key);
  }

  // Shape checks first, so a malformed file changes nothing.
  const userDefs: UserDefinition[] = users.map((u) => {
    const name = str(u, "name", "user");
    const what = `user '${name}'`;
    if (u.password !== undefined && typeof u.password !== "string") {
      throw new DefinitionsError(`${what}: 'password' must be a string`);
    }
    if (u.password_hash !== undefined && typeof u.password_hash !== "string") {
      throw new DefinitionsError(`${what}: 'password_hash' must be a string`);
    }
    return {
      name,
      password: u.password as string | undefined,
      password_hash: u.password_hash as string | undefined,
      hashing_algorithm: typeof u.hashing_algorithm === "string" ? u.hashing_algorithm : undefined,
      tags: parseTags(u.tags),
    };
  });
  const vhostNames = vhosts.map((v) => str(v, "name", "vhost"));
  const permDefs: PermissionDefinition[] = permissions.map((p) => {
    const what = "permission";
    return {
      user: str(p, "user", what),
      vhost: str(p, "vhost", what),
      configure: str(p, "configure", what, ""),
      write: str(p, "write", what, ""),
      read: str(p, "read", what, ""),
    };
  });
  const policyDefs = policies.map((p) => {
    const name = str(p, "name", "policy");
    const vhost = str(p, "vhost", `policy '${name}'`);
    return { name, vhost, input: p };
  });
  const exchangeDefs = exchanges.map((e) => {
    const name = str(e, "name", "exchange");
    const vhost = str(e, "vhost", `exchange '${name}'`);
    const what = `exchange '${name}' in vhost '${vhost}'`;
    return {
      name,
      vhost,
      type: str(e, "type", what),
      durable: bool(e, "durable", what, true),
      autoDelete: bool(e, "auto_delete", what, false),
      internal: bool(e, "internal", what, false),
      args: args(e, what),
    };
  });
  const queueDefs = queues.map((q) => {
    const name = str(q, "name", "queue");
    const vhost = str(q, "vhost", `queue '${name}'`);
    const what = `queue '${name}' in vhost '${vhost}'`;
    return {
      name,
      vhost,
      durable: bool(q, "durable", what, true),
      autoDelete: bool(q, "auto_delete", what, false),
      args: args(q, what),
    };
  });
  const bindingDefs = bindings.map((b) => {
    const what = "binding";
    const destinationType = str(b, "destination_type", what);
    if (destinationType !== "queue" && destinationType !== "exchange") {
      throw new DefinitionsError(`binding: 'destination_type' must be "queue" or "exchange"`);
    }
    return {
      source: str(b, "source", what),
      vhost: str(b, "vhost", what),
      destination: str(b, "destination", what),
      destinationType,
      routingKey: str(b, "routing_key", what, ""),
      args: args(b, what),
    };
  });

  for (const key of ["parameters", "global_parameters", "topic_permissions"]) {
    const n = list(d, key).length;
    if (n > 0) broker.log.warn("definitions import: not supported yet, skipped", { key, count: n });
  }

  for (const u of userDefs) {
    try {
      putUser(broker, u);
    } catch (err) {
      if (err instanceof TypeError) throw new DefinitionsError(err.message);
      throw err;
    }
  }
  for (const name of vhostNames) broker.addVHost(name);
  const vhostOf = (name: string): VHost => broker.vhosts.get(name) ?? broker.addVHost(name);
  for (const p of permDefs) {
    vhostOf(p.vhost);
    putPermission(broker, p);
  }
  const declare = (what: string, fn: () => unknown): void => {
    try {
      declareOrThrow(what, fn);
    } catch (err) {
      if (options.onError === undefined || !(err instanceof Error)) throw err;
      options.onError(what, err);
    }
  };
  // Policies before queues and exchanges, as RabbitMQ imports them: objects get theirs at declare.
  for (const p of policyDefs) {
    vhostOf(p.vhost);
    const what = `policy '${p.name}' in vhost '${p.vhost}'`;
    declare(what, () => {
      try {
        broker.setPolicy(p.vhost, p.name, p.input);
      } catch (err) {
        if (err instanceof PolicyError) throw new DefinitionsError(`${what}: ${err.problem}`);
        throw err;
      }
    });
  }
  for (const e of exchangeDefs) {
    if (isBuiltInExchange(e.name)) continue; // RabbitMQ skips amq.* exchanges in a file
    const v = vhostOf(e.vhost);
    if (v.exchanges.has(e.name)) continue;
    if (options.recovery && broker.exchangeType(e.type) === undefined) {
      v.restoreExchange(e.name, e.type, e, []);
      broker.log.warn("recovery: exchange type not loaded; exchange kept, refusing publishes", {
        vhost: e.vhost,
        exchange: e.name,
        type: e.type,
      });
      continue;
    }
    declare(`exchange '${e.name}' in vhost '${e.vhost}'`, () =>
      v.declareExchange({
        name: e.name,
        type: e.type,
        passive: false,
        durable: e.durable,
        autoDelete: e.autoDelete,
        internal: e.internal,
        args: e.args,
      }));
  }
  for (const q of queueDefs) {
    const v = vhostOf(q.vhost);
    if (v.queues.has(q.name)) continue;
    declare(`queue '${q.name}' in vhost '${q.vhost}'`, () =>
      v.declareQueue({
        name: q.name,
        passive: false,
        durable: q.durable,
        exclusive: false,
        autoDelete: q.autoDelete,
        args: q.args,
        owner: null,
        serverNamed: q.name.startsWith("amq."), // an import may restore amq.gen-… queues
      }));
  }
  for (const b of bindingDefs) {
    const v = vhostOf(b.vhost);
    const what = `binding '${b.source}' -> ${b.destinationType} '${b.destination}' in vhost '${b.vhost}'`;
    declare(what, () => {
      if (b.destinationType === "queue") {
        v.bindQueue(b.destination, IMPORT_OWNER, b.source, b.routingKey, b.args);
      } else v.bindExchange(b.destination, b.source, b.routingKey, b.args);
    });
  }
}

function declareOrThrow(what: string, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof AmqpError) throw new DefinitionsError(`${what}: ${err.replyText}`);
    throw err;
  }
}
