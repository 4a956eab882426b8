// Harness for the management API tests: a broker from createBroker() with AMQP and HTTP on
// ephemeral ports, users of each tag, and a small fetch helper that returns status, headers and
// the parsed JSON body.

import { createBroker, type RunningBroker } from "../../server/mod.ts";
import { isExternal } from "./_broker.ts";
import { amqplib, type AmqplibConnection } from "./_deps.ts";

export const ignore = isExternal;

/** Users every test broker has (guest, loopback-only administrator, exists too). */
export const USERS = [
  { name: "admin", password: "admin-pw", tags: ["administrator"] },
  { name: "mon", password: "mon-pw", tags: ["monitoring"] },
  { name: "mgmt", password: "mgmt-pw", tags: ["management"] },
  { name: "plain", password: "plain-pw", tags: [] },
];

export interface HttpBroker {
  running: RunningBroker;
  base: string;
  amqpUrl: string;
  /** Requests `path` as `user` (default admin; null: no credentials). */
  req(
    method: string,
    path: string,
    options?: { user?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> },
  ): Promise<Reply>;
  /** An amqplib connection as `user` (closed with the broker). */
  amqp(user?: string, vhost?: string): Promise<AmqplibConnection>;
  stop(): Promise<void>;
}

export interface Reply {
  status: number;
  headers: Headers;
  /** Parsed JSON, the text when it is not JSON, or null for an empty body. */
  json: unknown;
  text: string;
}

/** Basic auth header for a test user. */
export function basic(user: string): string {
  const u = USERS.find((x) => x.name === user);
  const password = u?.password ?? (user === "guest" ? "guest" : "wrong");
  return `Basic ${btoa(`${user}:${password}`)}`;
}

export async function startHttpBroker(): Promise<HttpBroker> {
  const running = await createBroker({
    port: 0,
    host: "127.0.0.1",
    httpPort: 0,
    logLevel: "none",
    users: USERS,
  });
  const base = `http://127.0.0.1:${running.httpPort}`;
  const conns: AmqplibConnection[] = [];
  return {
    running,
    base,
    amqpUrl: `amqp://admin:admin-pw@127.0.0.1:${running.port}`,
    async req(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const user = options.user === undefined ? "admin" : options.user;
      if (user !== null) headers.authorization = basic(user);
      let body: string | undefined = options.raw;
      if (options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined) headers["content-type"] = "application/json";
      const res = await fetch(base + path, { method, headers, body });
      const text = await res.text();
      let json: unknown = null;
      if (text !== "") {
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
      }
      return { status: res.status, headers: res.headers, json, text };
    },
    async amqp(user = "admin", vhost = "/") {
      const u = USERS.find((x) => x.name === user)!;
      const c = await amqplib.connect(
        `amqp://${u.name}:${u.password}@127.0.0.1:${running.port}/${encodeURIComponent(vhost)}`,
      );
      c.on("error", () => {});
      conns.push(c);
      return c;
    },
    async stop() {
      for (const c of conns) await c.close().catch(() => {});
      await running.close();
    },
  };
}

/** Declares a test that gets its own broker with HTTP. */
export function httpTest(name: string, fn: (b: HttpBroker) => Promise<void>): void {
  Deno.test({
    name,
    ignore,
    async fn() {
      const b = await startHttpBroker();
      try {
        await fn(b);
      } finally {
        await b.stop();
      }
    },
  });
}

/** Waits until `cond()` is true (polling), or fails after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
