/**
 * Users and login checks.
 *
 * Owns the user table and the loopback-only rule: a user marked loopback-only (the default
 * guest/guest) may log in only from 127.0.0.0/8 or ::1, as RabbitMQ's `loopback_users`.
 *
 * Passwords are never kept in clear: each user holds RabbitMQ's `rabbit_password_hashing_sha256`
 * hash, base64 of a 4-byte random salt followed by SHA-256(salt ‖ UTF-8 password). The same
 * string is what RabbitMQ's definitions carry as `password_hash`, so users exported from
 * RabbitMQ import with their passwords, and back. An empty hash means "no password": such a
 * user cannot log in with one (RabbitMQ's passwordless users).
 *
 * @module
 */

import { sha256 } from "./sha256.ts";

/** A broker user. */
export interface User {
  readonly name: string;
  readonly tags: readonly string[];
  readonly loopbackOnly: boolean;
}

interface StoredUser extends User {
  /** Salt (4 bytes) then SHA-256(salt ‖ password); empty for a user without a password. */
  readonly hash: Uint8Array;
}

/** The one password hashing scheme: RabbitMQ's default. */
export const HASHING_ALGORITHM = "rabbit_password_hashing_sha256";

/** A user as the management API and definitions show it: never the password, only its hash. */
export interface UserRecord {
  readonly name: string;
  /** base64(salt ‖ SHA-256(salt ‖ password)); "" when the user has no password. */
  readonly password_hash: string;
  readonly hashing_algorithm: typeof HASHING_ALGORITHM;
  readonly tags: readonly string[];
}

/** A change to the user table, for listeners (the broker, the store, the management API). */
export type UserChange = { readonly kind: "put" | "delete"; readonly name: string };

/** Options of {@link UserStore.put} and {@link UserStore.putHashed}. */
export interface UserOptions {
  /** Tags: administrator, monitoring, management, policymaker, impersonator, or any. @default [] */
  tags?: readonly string[];
  /** May log in from loopback addresses only. @default false (true is kept when replacing) */
  loopbackOnly?: boolean;
}

const utf8 = new TextEncoder();
const SALT_BYTES = 4;

/**
 * RabbitMQ's `rabbit_password_hashing_sha256` hash of a password, with a fresh random salt
 * (or the one given).
 *
 * @param password the clear password (UTF-8 encoded before hashing)
 * @param salt 4 bytes; random by default
 * @returns base64(salt ‖ SHA-256(salt ‖ password))
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPassword, hashPassword } from "./users.ts";
 * const hash = hashPassword("s3cret");
 * assert.ok(checkPassword(hash, "s3cret"));
 * assert.ok(!checkPassword(hash, "wrong"));
 * ```
 */
export function hashPassword(password: string | Uint8Array, salt?: Uint8Array): string {
  return toBase64(saltedHash(toBytes(password), salt ?? crypto.getRandomValues(new Uint8Array(SALT_BYTES))));
}

/**
 * True when `password` matches a `rabbit_password_hashing_sha256` hash. An empty or malformed
 * hash matches nothing.
 *
 * @param hash base64(salt ‖ SHA-256(salt ‖ password))
 * @param password the clear password to check
 * @returns whether it matches
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPassword } from "./users.ts";
 * // guest/guest as RabbitMQ 3.10 exports it.
 * assert.ok(checkPassword("rxlDp+pK7i+b+Qx9VJim1If2OKOe7DSRBaBgFBw1VhSW+I4P", "guest"));
 * ```
 */
export function checkPassword(hash: string, password: string | Uint8Array): boolean {
  const stored = fromBase64(hash);
  return stored !== null && matches(stored, toBytes(password));
}

function toBytes(password: string | Uint8Array): Uint8Array {
  return typeof password === "string" ? utf8.encode(password) : password;
}

function saltedHash(password: Uint8Array, salt: Uint8Array): Uint8Array {
  const input = new Uint8Array(salt.length + password.length);
  input.set(salt);
  input.set(password, salt.length);
  const out = new Uint8Array(salt.length + 32);
  out.set(salt);
  out.set(sha256(input), salt.length);
  return out;
}

/** Whether `password` hashes, with the stored salt, to the stored digest (compared in constant time). */
function matches(stored: Uint8Array, password: Uint8Array): boolean {
  if (stored.length !== SALT_BYTES + 32) return false;
  return equalBytes(saltedHash(password, stored.subarray(0, SALT_BYTES)), stored);
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

function fromBase64(text: string): Uint8Array | null {
  if (text === "") return new Uint8Array(0);
  try {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses. */
export function isLoopback(address: string): boolean {
  const a = address.startsWith("::ffff:") ? address.slice(7) : address;
  return a === "::1" || a.startsWith("127.") || a === "localhost";
}

/** Constant-time comparison, so a login check does not leak how much of a password matched. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i % (a.length || 1)] ?? 0) ^ (b[i % (b.length || 1)] ?? 0);
  return diff === 0;
}

/** The user table. */
export class UserStore {
  readonly #users = new Map<string, StoredUser>();
  readonly #listeners: ((change: UserChange) => void)[] = [];

  /**
   * Adds or replaces a user, hashing the password with a fresh salt (the clear password is not
   * kept). Replacing a user keeps its loopback-only mark unless `loopbackOnly` is given.
   */
  put(name: string, password: string, options: UserOptions = {}): void {
    this.#set(
      name,
      saltedHash(utf8.encode(password), crypto.getRandomValues(new Uint8Array(SALT_BYTES))),
      options,
    );
  }

  /**
   * Adds or replaces a user from a stored hash (RabbitMQ definitions' `password_hash`). An empty
   * hash gives a user that cannot log in with a password.
   *
   * @throws {TypeError} for another hashing algorithm, or a hash that is not base64 of 36 bytes
   */
  putHashed(
    name: string,
    passwordHash: string,
    algorithm: string = HASHING_ALGORITHM,
    options: UserOptions = {},
  ): void {
    if (algorithm !== HASHING_ALGORITHM) {
      throw new TypeError(`Cannot add user "${name}": unsupported hashing algorithm "${algorithm}"`);
    }
    const hash = fromBase64(passwordHash);
    if (hash === null || (hash.length !== 0 && hash.length !== SALT_BYTES + 32)) {
      throw new TypeError(`Cannot add user "${name}": invalid password_hash "${passwordHash}"`);
    }
    this.#set(name, hash, options);
  }

  /**
   * Changes an existing user's password or tags, keeping what is not given.
   * @returns false if there is no such user
   */
  update(
    name: string,
    changes: { password?: string; passwordHash?: string; tags?: readonly string[] },
  ): boolean {
    const u = this.#users.get(name);
    if (!u) return false;
    const tags = changes.tags ?? u.tags;
    if (changes.password !== undefined) this.put(name, changes.password, { tags });
    else if (changes.passwordHash !== undefined) {
      this.putHashed(name, changes.passwordHash, HASHING_ALGORITHM, { tags });
    } else this.#set(name, u.hash, { tags });
    return true;
  }

  #set(name: string, hash: Uint8Array, options: UserOptions): void {
    const old = this.#users.get(name);
    this.#users.set(name, {
      name,
      hash,
      tags: Object.freeze([...(options.tags ?? [])]),
      loopbackOnly: options.loopbackOnly ?? old?.loopbackOnly ?? false,
    });
    this.#emit({ kind: "put", name });
  }

  /** Removes a user; false if there was none. Listeners close its connections and permissions. */
  delete(name: string): boolean {
    if (!this.#users.delete(name)) return false;
    this.#emit({ kind: "delete", name });
    return true;
  }

  /** True if a user of that name exists. */
  has(name: string): boolean {
    return this.#users.has(name);
  }

  /** Every user with its hash and tags, sorted by name (management API, definitions export). */
  list(): UserRecord[] {
    return [...this.#users.keys()].sort().map((n) => this.record(n)!);
  }

  /** One user with its hash and tags, or undefined. */
  record(name: string): UserRecord | undefined {
    const u = this.#users.get(name);
    if (!u) return undefined;
    return { name, password_hash: toBase64(u.hash), hashing_algorithm: HASHING_ALGORITHM, tags: u.tags };
  }

  /** A user's stored hash, or undefined (the definitions export's seam). */
  credentials(name: string): { passwordHash: string; hashingAlgorithm: string } | undefined {
    const u = this.#users.get(name);
    return u && { passwordHash: toBase64(u.hash), hashingAlgorithm: HASHING_ALGORITHM };
  }

  /**
   * Calls `listener` after every change. Listeners must not throw.
   * @returns a function that removes the listener
   */
  onChange(listener: (change: UserChange) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  #emit(change: UserChange): void {
    for (const l of [...this.#listeners]) l(change);
  }

  /** Names of all users. */
  names(): string[] {
    return [...this.#users.keys()];
  }

  /** A user's public record (name, tags), or undefined. Never the password. */
  get(name: string): User | undefined {
    const u = this.#users.get(name);
    return u && { name: u.name, tags: u.tags, loopbackOnly: u.loopbackOnly };
  }

  /**
   * Checks a login. Returns the user, or a reason for the log (never sent to the client,
   * which only learns that the login was refused).
   */
  authenticate(
    name: string,
    password: Uint8Array | string,
    remoteAddress: string,
  ): User | { refused: string } {
    const u = this.#users.get(name);
    if (!u || !matches(u.hash, toBytes(password))) {
      return { refused: `invalid credentials for user '${name}'` };
    }
    if (u.loopbackOnly && !isLoopback(remoteAddress)) {
      return { refused: `user '${name}' can only connect via localhost` };
    }
    return { name: u.name, tags: u.tags, loopbackOnly: u.loopbackOnly };
  }
}
