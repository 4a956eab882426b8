/**
 * Per-user, per-vhost permissions: configure / write / read regular expressions, as RabbitMQ's
 * internal authorisation backend holds them, and the checks channels make with them.
 *
 * Owns the permission table, the compiled regular expressions (compiled once, when set), and a
 * version number bumped on every change so that channels can cache what they checked and drop
 * the cache when permissions change (see `ResourceAccess`).
 *
 * RabbitMQ's rules, kept here: a user may open a vhost when it has a permission entry for it
 * (whatever the patterns); a pattern is matched anywhere in the name unless anchored; the empty
 * pattern means `^$`; the default exchange is checked under the name `amq.default`.
 *
 * @module
 */

import { accessRefused } from "../errors.ts";

/** The three kinds of access. */
export type Access = "configure" | "write" | "read";

/** What a resource is, as RabbitMQ names it in refusals. */
export type ResourceKind = "queue" | "exchange";

/** One user's patterns in one vhost, in the management API's JSON shape. */
export interface Permission {
  readonly user: string;
  readonly vhost: string;
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

/** A change to the permission table, for listeners. */
export type PermissionChange = {
  readonly kind: "set" | "clear";
  readonly user: string;
  readonly vhost: string;
};

/** A compiled permission: a test per kind of access. */
interface Compiled {
  readonly permission: Permission;
  readonly configure: (name: string) => boolean;
  readonly write: (name: string) => boolean;
  readonly read: (name: string) => boolean;
}

function always(): boolean {
  return true;
}

/** Compiles one pattern; `.*` needs no regex, the empty pattern is `^$` (RabbitMQ's rule). */
function compile(pattern: string, what: string): (name: string) => boolean {
  if (pattern === ".*" || pattern === "^.*" || pattern === "^.*$" || pattern === ".*$") return always;
  let re: RegExp;
  try {
    re = new RegExp(pattern === "" ? "^$" : pattern);
  } catch (err) {
    throw new SyntaxError(`Invalid ${what} pattern "${pattern}": ${(err as Error).message}`);
  }
  return (name) => re.test(name);
}

function key(user: string, vhost: string): string {
  return `${user}\u0000${vhost}`;
}

/** The permission table. */
export class PermissionStore {
  readonly #entries = new Map<string, Compiled>();
  readonly #listeners: ((change: PermissionChange) => void)[] = [];
  /** Bumped on every change: channels compare it to drop what they cached. */
  version = 0;

  /**
   * Sets a user's patterns in a vhost (replacing any). Users and vhosts are not checked here:
   * the management API refuses unknown ones before calling this.
   *
   * @throws {SyntaxError} when a pattern is not a valid regular expression
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PermissionStore } from "./permissions.ts";
   * const p = new PermissionStore();
   * p.set("app", "/", { configure: "^app\\.", write: "^app\\.", read: ".*" });
   * assert.ok(p.allows("app", "/", "configure", "queue", "app.jobs"));
   * assert.ok(!p.allows("app", "/", "configure", "queue", "billing"));
   * ```
   */
  set(user: string, vhost: string, patterns: { configure: string; write: string; read: string }): void {
    const permission: Permission = {
      user,
      vhost,
      configure: patterns.configure,
      write: patterns.write,
      read: patterns.read,
    };
    this.#entries.set(key(user, vhost), {
      permission,
      configure: compile(patterns.configure, "configure"),
      write: compile(patterns.write, "write"),
      read: compile(patterns.read, "read"),
    });
    this.version++;
    this.#emit({ kind: "set", user, vhost });
  }

  /** Removes a user's permissions in a vhost; false if there were none. */
  clear(user: string, vhost: string): boolean {
    if (!this.#entries.delete(key(user, vhost))) return false;
    this.version++;
    this.#emit({ kind: "clear", user, vhost });
    return true;
  }

  /** Removes every permission of a user (the user was deleted). */
  clearUser(user: string): void {
    for (const e of [...this.#entries.values()]) {
      if (e.permission.user === user) this.clear(user, e.permission.vhost);
    }
  }

  /** Removes every permission in a vhost (the vhost was deleted). */
  clearVHost(vhost: string): void {
    for (const e of [...this.#entries.values()]) {
      if (e.permission.vhost === vhost) this.clear(e.permission.user, vhost);
    }
  }

  /** A user's patterns in a vhost, or undefined. */
  get(user: string, vhost: string): Permission | undefined {
    return this.#entries.get(key(user, vhost))?.permission;
  }

  /** Every entry, or those of one user and/or one vhost, sorted by vhost then user. */
  list(filter: { user?: string; vhost?: string } = {}): Permission[] {
    const out: Permission[] = [];
    for (const e of this.#entries.values()) {
      const p = e.permission;
      if (filter.user !== undefined && p.user !== filter.user) continue;
      if (filter.vhost !== undefined && p.vhost !== filter.vhost) continue;
      out.push(p);
    }
    return out.sort((a, b) =>
      a.vhost < b.vhost ? -1 : a.vhost > b.vhost ? 1 : a.user < b.user ? -1 : a.user > b.user ? 1 : 0
    );
  }

  /**
   * True when the user may access the resource. The default exchange ("") is checked as
   * `amq.default`, as RabbitMQ does.
   */
  allows(user: string, vhost: string, access: Access, kind: ResourceKind, name: string): boolean {
    const e = this.#entries.get(key(user, vhost));
    if (e === undefined) return false;
    return e[access](kind === "exchange" && name === "" ? "amq.default" : name);
  }

  /**
   * Calls `listener` after every change. Listeners must not throw.
   * @returns a function that removes the listener
   */
  onChange(listener: (change: PermissionChange) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  #emit(change: PermissionChange): void {
    for (const l of [...this.#listeners]) l(change);
  }
}

/** RabbitMQ's refusal: `ACCESS_REFUSED - access to queue 'q' in vhost '/' refused for user 'u'`. */
export function accessToResourceRefused(kind: ResourceKind, name: string, vhost: string, user: string) {
  const shown = kind === "exchange" && name === "" ? "amq.default" : name;
  return accessRefused(`access to ${kind} '${shown}' in vhost '${vhost}' refused for user '${user}'`);
}

/**
 * One channel's view of its user's permissions in its vhost. Checks are cached until the
 * permission table changes (its version moves), so the publish path runs no regular expression
 * per message: the last exchange allowed for writing and the last queue allowed for reading
 * are remembered. RabbitMQ keeps a similar per-channel cache but never drops it, so there a
 * revoked permission may still work on a channel that used it; here a change applies at once.
 */
export class ResourceAccess {
  readonly #store: PermissionStore;
  readonly #user: string;
  readonly #vhost: string;
  #version = -1;
  #lastWrite: string | null = null;
  #lastRead: string | null = null;

  /**
   * @param store the broker's permission table
   * @param user who logged in
   * @param vhost the connection's vhost
   */
  constructor(store: PermissionStore, user: string, vhost: string) {
    this.#store = store;
    this.#user = user;
    this.#vhost = vhost;
  }

  /** Throws 403 ACCESS_REFUSED unless the user may `access` the resource. */
  check(access: Access, kind: ResourceKind, name: string): void {
    if (this.#version !== this.#store.version) {
      this.#version = this.#store.version;
      this.#lastWrite = null;
      this.#lastRead = null;
    }
    if (access === "write" && kind === "exchange") {
      if (name === this.#lastWrite) return;
      this.#demand(access, kind, name);
      this.#lastWrite = name;
    } else if (access === "read" && kind === "queue") {
      if (name === this.#lastRead) return;
      this.#demand(access, kind, name);
      this.#lastRead = name;
    } else this.#demand(access, kind, name);
  }

  #demand(access: Access, kind: ResourceKind, name: string): void {
    if (!this.#store.allows(this.#user, this.#vhost, access, kind, name)) {
      throw accessToResourceRefused(kind, name, this.#vhost, this.#user);
    }
  }
}
