/**
 * Serves the management app over HTTP with the runtime's own server: `Deno.serve` on Deno,
 * `Bun.serve` on Bun. The client's address reaches the app (loopback-only users).
 *
 * @module
 */

import type { Hono } from "hono";
import type { AppEnv } from "./api.ts";

/** A running HTTP listener. */
export interface HttpListener {
  /** The port bound (the real one when 0 was asked for). */
  readonly port: number;
  readonly host: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

interface DenoServe {
  serve(
    options: {
      port: number;
      hostname: string;
      onListen?(addr: { port: number; hostname: string }): void;
      onError?(err: unknown): Response;
    },
    handler: (req: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): { addr: { port: number; hostname: string }; shutdown(): Promise<void>; finished: Promise<void> };
}

interface BunServer {
  port: number;
  hostname: string;
  stop(closeActive?: boolean): void | Promise<void>;
  requestIP(req: Request): { address: string } | null;
}

interface BunServe {
  serve(options: {
    port: number;
    hostname: string;
    fetch(req: Request, server: BunServer): Response | Promise<Response>;
  }): BunServer;
}

/**
 * Listens on `host:port` (0: a free port) and serves the app.
 * @param app the management app
 * @param options where to listen, and the runtime (default: the one this code runs on)
 */
export function serveHttp(
  app: Hono<AppEnv>,
  options: { host: string; port: number; runtime?: "deno" | "bun" },
): Promise<HttpListener> {
  const g = globalThis as unknown as { Deno?: DenoServe; Bun?: BunServe };
  const runtime = options.runtime ?? ("Bun" in globalThis ? "bun" : "deno");
  if (runtime === "bun") {
    const server = g.Bun!.serve({
      port: options.port,
      hostname: options.host,
      fetch: (req, srv) => app.fetch(req, { remoteAddress: srv.requestIP(req)?.address ?? "" }),
    });
    return Promise.resolve({
      port: server.port,
      host: options.host,
      close: async () => {
        await server.stop(true);
      },
    });
  }
  return new Promise((resolve, reject) => {
    try {
      const server = g.Deno!.serve(
        {
          port: options.port,
          hostname: options.host,
          onListen: () => {},
        },
        (req, info) => app.fetch(req, { remoteAddress: info.remoteAddr.hostname }),
      );
      resolve({
        port: server.addr.port,
        host: options.host,
        close: async () => {
          await server.shutdown();
        },
      });
    } catch (err) {
      reject(err);
    }
  });
}
