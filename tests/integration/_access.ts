// Users, vhosts and permissions for integration tests, on whichever broker the tests run against:
// Warren in this process (through its kernel), Warren as a child process (through its own
// management HTTP API, on the port it printed at start), or an external RabbitMQ (through its
// management HTTP API on the AMQP port + 10000, as ../shared/tools/rabbitmq-up.sh sets it up).

import { brokerTest, type TestCtx, uniqueName } from "./_broker.ts";

export interface Patterns {
  configure: string;
  write: string;
  read: string;
}

export const FULL: Patterns = { configure: ".*", write: ".*", read: ".*" };

/** Creates and removes users, vhosts and permissions; everything created is removed after the test. */
export interface Admin {
  addUser(name: string, password: string, tags?: string[]): Promise<void>;
  deleteUser(name: string): Promise<void>;
  /** Creates a vhost; guest gets full permissions on it (as RabbitMQ's HTTP API gives its creator). */
  addVHost(name: string): Promise<void>;
  deleteVHost(name: string): Promise<void>;
  setPermissions(user: string, vhost: string, p: Patterns): Promise<void>;
  clearPermissions(user: string, vhost: string): Promise<void>;
  /** amqp://user:password@host:port/vhost */
  url(user: string, password: string, vhost: string): string;
}

/** A brokerTest that gets an Admin for the broker under test. */
export function accessTest(
  name: string,
  fn: (ctx: TestCtx, admin: Admin) => Promise<void>,
  options: { ignore?: string } = {},
): void {
  const why = options.ignore;
  if (why !== undefined) {
    Deno.test({ name: `${name} (ignored: ${why})`, ignore: true, fn() {} });
    return;
  }
  brokerTest(name, async (ctx) => {
    const admin = ctx.broker.kernel ? kernelAdmin(ctx) : httpAdmin(ctx);
    await fn(ctx, admin);
  });
}

/** A user name, vhost name… unique across runs (an external broker keeps what tests leave behind). */
export function unique(prefix: string): string {
  return uniqueName(prefix);
}

function amqpUrl(base: string, user: string, password: string, vhost: string): string {
  const u = new URL(base);
  return `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${u.host}/${
    encodeURIComponent(vhost)
  }`;
}

function kernelAdmin(ctx: TestCtx): Admin {
  const k = ctx.broker.kernel!;
  return {
    addUser(name, password, tags = []) {
      k.users.put(name, password, { tags });
      return Promise.resolve();
    },
    deleteUser(name) {
      k.users.delete(name);
      return Promise.resolve();
    },
    addVHost(name) {
      k.addVHost(name);
      k.permissions.set("guest", name, FULL);
      return Promise.resolve();
    },
    deleteVHost(name) {
      k.deleteVHost(name);
      return Promise.resolve();
    },
    setPermissions(user, vhost, p) {
      k.permissions.set(user, vhost, p);
      return Promise.resolve();
    },
    clearPermissions(user, vhost) {
      k.permissions.clear(user, vhost);
      return Promise.resolve();
    },
    url: (user, password, vhost) => amqpUrl(ctx.url, user, password, vhost),
  };
}

function httpAdmin(ctx: TestCtx): Admin {
  const u = new URL(ctx.url);
  const port = ctx.broker.httpPort ?? Number(u.port || 5672) + 10000;
  const api = `http://${u.hostname}:${port}/api`;
  const auth = "Basic " + btoa(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`);
  async function call(method: string, path: string, body?: unknown): Promise<void> {
    const r = await fetch(api + path, {
      method,
      headers: { authorization: auth, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (r.status >= 300 && !(method === "DELETE" && r.status === 404)) {
      throw new Error(`${method} ${path}: ${r.status} ${text}`);
    }
  }
  const e = encodeURIComponent;
  return {
    async addUser(name, password, tags = []) {
      await call("PUT", `/users/${e(name)}`, { password, tags: tags.join(",") });
      ctx.defer(() => call("DELETE", `/users/${e(name)}`));
    },
    deleteUser: (name) => call("DELETE", `/users/${e(name)}`),
    async addVHost(name) {
      await call("PUT", `/vhosts/${e(name)}`, {});
      ctx.defer(() => call("DELETE", `/vhosts/${e(name)}`));
    },
    deleteVHost: (name) => call("DELETE", `/vhosts/${e(name)}`),
    setPermissions: (user, vhost, p) => call("PUT", `/permissions/${e(vhost)}/${e(user)}`, p),
    clearPermissions: (user, vhost) => call("DELETE", `/permissions/${e(vhost)}/${e(user)}`),
    url: (user, password, vhost) => amqpUrl(ctx.url, user, password, vhost),
  };
}
