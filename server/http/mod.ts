/**
 * The management HTTP API (RabbitMQ-compatible) and `/metrics`, on Hono.
 *
 * @module
 */

export { type AppEnv, createManagementApp, type ManagementOptions } from "./app.ts";
export { type HttpListener, serveHttp } from "./serve.ts";
export { metricsText } from "./metrics.ts";

import type { Broker, Logger } from "../../core/mod.ts";
import { createManagementApp, type ManagementOptions } from "./app.ts";
import { type HttpListener, serveHttp } from "./serve.ts";

/**
 * Starts the management API for a running broker (what `createBroker({ httpPort })` calls).
 * @param broker the kernel
 * @param options where to listen, the AMQP listener shown in the overview, the runtime
 */
export async function startManagement(
  broker: Broker,
  options: {
    host: string;
    port: number;
    runtime?: "deno" | "bun";
    amqp?: { host: string; port: number };
    log?: Logger;
    /** The resource monitor's last measurements, for `/api/nodes`. */
    resources?: ManagementOptions["resources"];
  },
): Promise<HttpListener> {
  const g = globalThis as unknown as { Deno?: { hostname(): string } };
  let host = "localhost";
  try {
    host = g.Deno?.hostname() ?? (await import("node:os")).hostname();
  } catch {
    // no hostname permission: keep "localhost"
  }
  const management = {
    node: `warren@${host}`,
    amqp: options.amqp,
    http: { host: options.host, port: options.port },
    resources: options.resources,
  };
  const app = createManagementApp(broker, management);
  const listener = await serveHttp(app, options);
  management.http.port = listener.port;
  options.log?.info("management API listening", { http: `${options.host}:${listener.port}` });
  return listener;
}
