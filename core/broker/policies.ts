/**
 * Policies: RabbitMQ's per-vhost rules that configure matching queues and exchanges at run time.
 *
 * Owns the policy record, its validation (RabbitMQ 3.10's rules and error texts), the keys the
 * kernel understands, and matching: of the policies whose `apply-to` covers an object's kind and
 * whose pattern (a regular expression, unanchored) matches its name, the one with the highest
 * priority applies, alone (RabbitMQ does not merge policies). RabbitMQ leaves the choice between
 * equal priorities unspecified; Warren takes the first by name.
 *
 * It does not own applying a policy: the vhost finds the policy of each object when a policy
 * changes or an object is declared, and queues recompute their settings from their arguments and
 * that policy once, so the publish path never looks a policy up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CORE_POLICY_KEYS, matchPolicy, validatePolicy } from "./policies.ts";
 * const keys = new Map(CORE_POLICY_KEYS.map((k) => [k.name, k]));
 * const ttl = validatePolicy("/", "ttl", { pattern: "^jobs\\.", definition: { "message-ttl": 60000 } }, keys);
 * assert.equal(matchPolicy([ttl], "queues", "jobs.email"), ttl);
 * assert.equal(matchPolicy([ttl], "exchanges", "other"), null);
 * ```
 *
 * @module
 */

/** A value in a policy definition: what JSON holds. */
export type PolicyValue =
  | null
  | boolean
  | number
  | string
  | PolicyValue[]
  | { [key: string]: PolicyValue };

/** The kinds of object a policy applies to (RabbitMQ 3.10). */
export type PolicyApplyTo = "queues" | "exchanges" | "all";

/** A validated policy of one vhost. */
export interface Policy {
  readonly vhost: string;
  readonly name: string;
  /** The regular expression, as given. */
  readonly pattern: string;
  readonly applyTo: PolicyApplyTo;
  readonly priority: number;
  /** Keys (`message-ttl`, `dead-letter-exchange`…) and their values, keys sorted as RabbitMQ keeps them. */
  readonly definition: Readonly<Record<string, PolicyValue>>;
  /** `pattern`, compiled once when the policy is set. */
  readonly regex: RegExp;
}

/** What a caller gives to set a policy (the HTTP body, a definitions entry, the CLI). */
export interface PolicyInput {
  pattern?: unknown;
  definition?: unknown;
  /** @default 0 */
  priority?: unknown;
  /** @default "all" */
  "apply-to"?: unknown;
}

/**
 * A policy key a plugin or the kernel understands. `validate` answers what is wrong with a
 * value, completing RabbitMQ's sentence `<value> …`, e.g. "is not a valid message TTL", or
 * undefined when the value is fine.
 */
export interface PolicyKey {
  readonly name: string;
  validate(value: PolicyValue): string | undefined;
}

/** A policy refused by validation. `reason` is RabbitMQ's text ("Validation failed\n\n…\n"). */
export class PolicyError extends Error {
  override readonly name = "PolicyError";
  /** @param problem the one-line problem, e.g. `-1 is not a valid message TTL` */
  constructor(readonly problem: string) {
    super(`Validation failed\n\n${problem}\n`);
  }

  /** RabbitMQ's full reason text, as the management API and rabbitmqctl show it. */
  get reason(): string {
    return this.message;
  }
}

function integerAtLeast(min: number, what: string): (v: PolicyValue) => string | undefined {
  return (v) =>
    typeof v === "number" && Number.isInteger(v) && v >= min ? undefined : `is not a valid ${what}`;
}

function oneOf(values: readonly string[], what: string): (v: PolicyValue) => string | undefined {
  return (v) => typeof v === "string" && values.includes(v) ? undefined : `is not a valid ${what}`;
}

/** Accepted and shown, with no effect in Warren (RabbitMQ features Warren has no need of). */
function inert(): undefined {
  return undefined;
}

/**
 * The keys the kernel applies to queues itself (the dead-letter and alternate-exchange keys
 * belong to their plugins), and RabbitMQ 3.10 keys accepted for compatibility with definitions
 * exported from RabbitMQ but without effect here (`queue-mode`, `queue-version`, `ha-*`,
 * `queue-master-locator`: Warren pages every queue and runs one node).
 */
export const CORE_POLICY_KEYS: readonly PolicyKey[] = [
  { name: "message-ttl", validate: integerAtLeast(0, "message TTL") },
  { name: "expires", validate: integerAtLeast(1, "queue expiry") },
  { name: "max-length", validate: integerAtLeast(0, "maximum length") },
  { name: "max-length-bytes", validate: integerAtLeast(0, "maximum length in bytes") },
  {
    name: "overflow",
    validate: oneOf(["drop-head", "reject-publish", "reject-publish-dlx"], "overflow value"),
  },
  { name: "delivery-limit", validate: integerAtLeast(0, "delivery limit") },
  { name: "queue-mode", validate: oneOf(["default", "lazy"], "queue-mode value") },
  { name: "queue-version", validate: inert },
  { name: "ha-mode", validate: inert },
  { name: "ha-params", validate: inert },
  { name: "ha-sync-mode", validate: inert },
  { name: "ha-sync-batch-size", validate: inert },
  { name: "ha-promote-on-shutdown", validate: inert },
  { name: "ha-promote-on-failure", validate: inert },
  { name: "queue-master-locator", validate: inert },
];

/**
 * A value written as Erlang prints it in RabbitMQ's messages: strings as `<<"x">>`, floats as
 * Erlang's shortest form (`1.5`, `1.0e-7`), objects as maps.
 */
export function erlangTerm(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "string") return `<<"${v.replace(/["\\]/g, (c) => "\\" + c)}">>`;
  if (typeof v === "number") {
    if (Number.isInteger(v)) return BigInt(v).toString(); // all digits, as Erlang prints integers
    const s = String(v);
    const e = s.indexOf("e");
    if (e < 0) return s;
    const mantissa = s.slice(0, e);
    return `${mantissa.includes(".") ? mantissa : mantissa + ".0"}e${s.slice(e + 1).replace("+", "")}`;
  }
  if (Array.isArray(v)) return `[${v.map(erlangTerm).join(",")}]`;
  if (typeof v === "object") {
    const entries = Object.keys(v as object).sort().map((k) =>
      `${erlangTerm(k)} => ${erlangTerm((v as Record<string, unknown>)[k])}`
    );
    return `#{${entries.join(",")}}`;
  }
  return String(v);
}

/**
 * Checks a policy as RabbitMQ 3.10 does, in its order (priority, pattern, apply-to, then the
 * definition's keys in sorted order, unknown keys last), and returns the policy to set.
 *
 * @param vhost the vhost it belongs to
 * @param name its name
 * @param input pattern, definition, priority (default 0), apply-to (default "all")
 * @param keys every key understood: the kernel's and the loaded plugins'
 * @returns the validated policy
 * @throws {PolicyError} with RabbitMQ's reason text
 */
export function validatePolicy(
  vhost: string,
  name: string,
  input: PolicyInput,
  keys: ReadonlyMap<string, PolicyKey>,
): Policy {
  const priority = input.priority === undefined ? 0 : input.priority;
  if (typeof priority !== "number" || !Number.isFinite(priority)) {
    throw new PolicyError(`priority should be a number, actually was ${erlangTerm(priority)}`);
  }
  const pattern = input.pattern;
  if (typeof pattern !== "string") {
    throw new PolicyError(`pattern should be a binary but was ${erlangTerm(pattern)}`);
  }
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (err) {
    throw new PolicyError(
      `pattern should be regular expression but is invalid: ${(err as Error).message}`,
    );
  }
  const applyTo = input["apply-to"] === undefined ? "all" : input["apply-to"];
  if (applyTo !== "queues" && applyTo !== "exchanges" && applyTo !== "all") {
    throw new PolicyError(
      `apply-to '${
        typeof applyTo === "string" ? applyTo : erlangTerm(applyTo)
      }' unrecognised; should be 'queues', 'exchanges' or 'all'`,
    );
  }
  const d = input.definition;
  if (d === null || typeof d !== "object" || Array.isArray(d)) {
    throw new PolicyError(`definition must be a dictionary: ${erlangTerm(d)}`);
  }
  const names = Object.keys(d).sort();
  if (names.length === 0) throw new PolicyError("no policy provided");
  const definition: Record<string, PolicyValue> = {};
  const unknown: string[] = [];
  for (const k of names) {
    const value = (d as Record<string, PolicyValue>)[k];
    definition[k] = value;
    const key = keys.get(k);
    if (key === undefined) {
      unknown.push(`{${erlangTerm(k)},${erlangTerm(value)}}`);
      continue;
    }
    const problem = key.validate(value);
    if (problem !== undefined) throw new PolicyError(`${erlangTerm(value)} ${problem}`);
  }
  if (unknown.length > 0) {
    throw new PolicyError(`[${unknown.join(",")}] are not recognised policy settings`);
  }
  return { vhost, name, pattern, applyTo, priority, definition, regex };
}

/**
 * The policy that applies to an object: of those covering its kind whose pattern matches its
 * name, the highest priority; the first by name among equals. Null when none matches.
 *
 * @param policies the vhost's policies
 * @param kind "queues" or "exchanges"
 * @param name the object's name
 */
export function matchPolicy(
  policies: Iterable<Policy>,
  kind: "queues" | "exchanges",
  name: string,
): Policy | null {
  let best: Policy | null = null;
  for (const p of policies) {
    if (p.applyTo !== "all" && p.applyTo !== kind) continue;
    if (!p.regex.test(name)) continue;
    if (
      best === null || p.priority > best.priority || (p.priority === best.priority && p.name < best.name)
    ) best = p;
  }
  return best;
}

/** A numeric setting of a policy, or Infinity when it has none (for `Math.min` with an argument). */
export function policyNumber(policy: Policy | null, key: string): number {
  const v = policy?.definition[key];
  return typeof v === "number" ? v : Infinity;
}
