/**
 * Users and login checks.
 *
 * Owns the user table and the loopback-only rule: a user marked loopback-only (the default
 * guest/guest) may log in only from 127.0.0.0/8 or ::1, as RabbitMQ's `loopback_users`.
 *
 * @module
 */

/** A broker user. */
export interface User {
  readonly name: string;
  readonly tags: readonly string[];
  readonly loopbackOnly: boolean;
}

interface StoredUser extends User {
  readonly password: Uint8Array;
}

const utf8 = new TextEncoder();

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

  /** Adds or replaces a user. */
  put(name: string, password: string, options: { tags?: string[]; loopbackOnly?: boolean } = {}): void {
    this.#users.set(name, {
      name,
      password: utf8.encode(password),
      tags: options.tags ?? [],
      loopbackOnly: options.loopbackOnly ?? false,
    });
  }

  /** Removes a user; false if there was none. */
  delete(name: string): boolean {
    return this.#users.delete(name);
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
  authenticate(name: string, password: Uint8Array, remoteAddress: string): User | { refused: string } {
    const u = this.#users.get(name);
    if (!u || !equalBytes(u.password, password)) return { refused: `invalid credentials for user '${name}'` };
    if (u.loopbackOnly && !isLoopback(remoteAddress)) {
      return { refused: `user '${name}' can only connect via localhost` };
    }
    return { name: u.name, tags: u.tags, loopbackOnly: u.loopbackOnly };
  }
}
