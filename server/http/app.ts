/**
 * The management HTTP API: a Hono app speaking RabbitMQ's management API (same paths, JSON
 * field names, status codes and error bodies), plus `/metrics` in Prometheus' text format.
 *
 * Every `/api/…` request needs HTTP basic auth against the broker's users (a loopback-only user
 * such as guest only from loopback), and a management tag (see `api.ts` for who may do what).
 * Errors are RabbitMQ's `{"error": …, "reason": …}`. `/metrics` needs no login, as RabbitMQ's
 * Prometheus endpoint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Broker } from "../../core/mod.ts";
 * import { createManagementApp } from "./app.ts";
 * const broker = new Broker();
 * broker.users.put("admin", "pw", { tags: ["administrator"] });
 * const app = createManagementApp(broker);
 * const res = await app.request("/api/whoami", { headers: { authorization: `Basic ${btoa("admin:pw")}` } });
 * assert.deepEqual(await res.json(), { name: "admin", tags: ["administrator"] });
 * ```
 *
 * @module
 */

import { Hono } from "hono";
import type { Broker, User } from "../../core/mod.ts";
import { Api, type AppEnv, isManagementUser, type ManagementOptions } from "./api.ts";
import { metricsText } from "./metrics.ts";
import { accessRoutes } from "./routes/access.ts";
import { connectionRoutes } from "./routes/connections.ts";
import { objectRoutes } from "./routes/objects.ts";
import { overviewRoutes } from "./routes/overview.ts";
import { policyRoutes } from "./routes/policies.ts";
import { HttpError } from "./_util.ts";
import { dashboardRoutes } from "./dashboard/mod.ts";

export type { AppEnv, ManagementOptions } from "./api.ts";

const REALM = 'Basic realm="RabbitMQ Management"';

function credentials(header: string | undefined): { name: string; password: string } | null {
  if (!header || !/^basic /i.test(header)) return null;
  let decoded: string;
  try {
    const bin = atob(header.slice(6).trim());
    decoded = new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
  } catch {
    return null;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  return { name: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Creates the management app for a broker.
 * @param broker the kernel
 * @param options node name, listeners shown in the overview, body limit
 */
export function createManagementApp(broker: Broker, options: ManagementOptions = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const api = new Api(app, broker, options);

  app.onError((err, c) => {
    if (err instanceof HttpError) {
      const headers: Record<string, string> = err.status === 401 && err.error === "not_authorized"
        ? { "www-authenticate": REALM }
        : {};
      return c.json({ error: err.error, reason: err.reason }, err.status as 400, headers);
    }
    broker.log.error("management API: internal error", {
      path: c.req.path,
      error: err instanceof Error ? err.stack : String(err),
    });
    return c.json({ error: "internal_server_error", reason: "Internal Server Error" }, 500);
  });
  app.notFound((c) => c.json({ error: "Object Not Found", reason: "Not Found" }, 404));

  app.use("/api/*", async (c, next) => {
    const cred = credentials(c.req.header("authorization"));
    if (cred === null) return c.body(null, 401, { "www-authenticate": REALM });
    const remote = c.env?.remoteAddress ?? "127.0.0.1";
    const result = await broker.users.authenticate(
      cred.name,
      new TextEncoder().encode(cred.password),
      remote,
    );
    if ("refused" in result) {
      broker.log.info("management API: login refused", { user: cred.name, reason: result.refused, remote });
      throw new HttpError(401, "not_authorized", "Login failed");
    }
    const user: User = result;
    if (!isManagementUser(user)) throw new HttpError(401, "not_authorised", "Not management user");
    c.set("user", user);
    await next();
  });

  overviewRoutes(api);
  accessRoutes(api);
  objectRoutes(api);
  connectionRoutes(api);
  policyRoutes(api);

  app.get(
    "/metrics",
    (c) =>
      c.body(metricsText(broker, api.node), 200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      }),
  );
  dashboardRoutes(app);

  return app;
}
