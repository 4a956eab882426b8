/**
 * The management API's shared context: authentication, tag-based access, vhost access, and
 * the helpers each route file uses to answer as RabbitMQ does.
 *
 * Access follows RabbitMQ's user tags: `administrator` may do everything; `monitoring` may read
 * everything (every vhost, every connection); `management` and `policymaker` see the vhosts
 * they have a permission in, and their own connections; a user without any of these tags is
 * refused (401 "Not management user"). Operations on objects in a vhost (declare, delete, bind,
 * publish, get, purge) need a permission in that vhost, and are checked against its
 * configure / write / read patterns when the kernel has a permission table.
 *
 * @module
 */

import type { Context, Hono } from "hono";
import type { Broker, User, VHost } from "../../core/mod.ts";
import { listPermissions, permissionTable } from "../definitions.ts";
import type { FormatContext, ListenerInfo } from "./format.ts";
import {
  columnsOf,
  DEFAULT_MAX_BODY,
  HttpError,
  type ListOptions,
  listResponse,
  notAuthorised,
  notFound,
  readJson,
  type Row,
  selectColumns,
} from "./_util.ts";

/** Options of the management app. */
export interface ManagementOptions {
  /** Node name shown in every object (`node`), RabbitMQ style. @default "warren@localhost" */
  node?: string;
  /** Largest request body, bytes (413 above). @default 20 MiB */
  maxBody?: number;
  /** The AMQP listener, for `/api/overview` listeners and connection rows. */
  amqp?: ListenerInfo;
  /** The HTTP listener (set by `serveHttp`), for `/api/overview` listeners. */
  http?: ListenerInfo;
  /** Wall clock, ms. @default Date.now */
  now?: () => number;
  /** When the broker started (ms), for uptime. @default when the app was created */
  startedAt?: number;
  /**
   * The resource monitor's last measurements (bytes), for `/api/nodes` (`mem_used`,
   * `mem_limit`, `disk_free`, `disk_free_limit`); undefined before it first measured.
   */
  resources?: () =>
    | { memoryUsed: number; memoryLimit: number; diskFree: number; diskFreeLimit: number }
    | undefined;
}

/** Hono environment of the management app. */
export type AppEnv = {
  Bindings: { remoteAddress?: string };
  Variables: { user: User };
};

/** A request context of the management app. */
export type Ctx = Context<AppEnv>;

/** Who may call a route. */
export type Access = "management" | "monitoring" | "administrator";

/** A route handler. */
export type Handler = (c: Ctx) => Response | Promise<Response>;

/** HTTP methods the API serves. */
export type Method = "GET" | "PUT" | "POST" | "DELETE";

const MANAGEMENT_TAGS = ["administrator", "monitoring", "management", "policymaker"];

/** The shared state of one management app. */
export class Api {
  readonly node: string;
  readonly maxBody: number;
  readonly now: () => number;
  readonly startedAt: number;

  /**
   * @param app the Hono app routes are added to
   * @param broker the kernel
   * @param options see {@link ManagementOptions}
   */
  constructor(readonly app: Hono<AppEnv>, readonly broker: Broker, readonly options: ManagementOptions) {
    this.node = options.node ?? "warren@localhost";
    this.maxBody = options.maxBody ?? DEFAULT_MAX_BODY;
    this.now = options.now ?? Date.now;
    this.startedAt = options.startedAt ?? this.now();
  }

  /** Formatting context for this request. */
  fmt(): FormatContext {
    return { broker: this.broker, node: this.node, now: this.now() };
  }

  /**
   * Adds a path with a handler per method. Other methods get 405 with an `Allow` header, as
   * RabbitMQ answers them; OPTIONS gets 200 with `Allow`.
   */
  route(path: string, methods: Partial<Record<Method, [Access, Handler]>>): void {
    const allow = ["HEAD", ...Object.keys(methods), "OPTIONS"].filter((m, i, a) => a.indexOf(m) === i);
    if (!methods.GET) allow.shift();
    for (const [method, [access, handler]] of Object.entries(methods) as [Method, [Access, Handler]][]) {
      this.app.on(method, path, (c) => {
        requireTag(c.get("user"), access);
        return handler(c);
      });
    }
    this.app.all(path, (c) => {
      const headers = { allow: allow.join(", ") };
      if (c.req.method === "OPTIONS") return c.body(null, 200, headers);
      return c.body(null, 405, headers);
    });
  }

  /** True for users who may read everything. */
  isMonitor(user: User): boolean {
    return user.tags.includes("administrator") || user.tags.includes("monitoring");
  }

  /** True for administrators. */
  isAdmin(user: User): boolean {
    return user.tags.includes("administrator");
  }

  /** True when the user has a permission in the vhost (RabbitMQ's vhost access). */
  hasVhostAccess(user: User, vhost: string): boolean {
    const table = permissionTable(this.broker);
    if (table) return table.get(user.name, vhost) !== undefined;
    return listPermissions(this.broker, { user: user.name, vhost }).length > 0;
  }

  /** Vhosts whose objects the user may see: all for monitors, else those it has access to. */
  visibleVhosts(user: User): VHost[] {
    const all = [...this.broker.vhosts.values()];
    return this.isMonitor(user) ? all : all.filter((v) => this.hasVhostAccess(user, v.name));
  }

  /**
   * A vhost the caller may read (`write` false: monitors may read any) or act in (`write`
   * true: a permission in it is needed); 404 if it does not exist, 401 if not allowed.
   */
  vhost(c: Ctx, name: string, write = false): VHost {
    const v = this.broker.vhosts.get(name);
    if (!v) throw notFound();
    const user = c.get("user");
    if ((write || !this.isMonitor(user)) && !this.hasVhostAccess(user, name)) {
      throw notAuthorised("User not authorised to access virtual host");
    }
    return v;
  }

  /**
   * Checks the caller's configure / write / read pattern for a resource, when the kernel has a
   * permission table (401 "Access refused." otherwise, as RabbitMQ answers over HTTP).
   */
  checkResource(
    c: Ctx,
    vhost: string,
    access: "configure" | "write" | "read",
    kind: "queue" | "exchange",
    name: string,
  ): void {
    const table = permissionTable(this.broker);
    if (!table?.allows) return;
    const checked = kind === "exchange" && name === "" ? "amq.default" : name;
    if (!table.allows(c.get("user").name, vhost, access, kind, checked)) {
      throw notAuthorised("Access refused.");
    }
  }

  /** The request's JSON body (see `readJson`). */
  body(c: Ctx): Promise<Record<string, unknown>> {
    return readJson(c.req.raw, this.maxBody);
  }

  /** A list answer (pagination, filtering, sorting, columns). */
  list<T>(c: Ctx, items: T[], options: ListOptions<T>): Response {
    return c.json(listResponse(new URL(c.req.url), items, options));
  }

  /** One object, with `columns=` applied. */
  one(c: Ctx, row: Row): Response {
    const columns = columnsOf(new URL(c.req.url));
    return c.json(columns ? selectColumns(row, columns) : row);
  }
}

function requireTag(user: User, access: Access): void {
  const tags = user.tags;
  if (access === "administrator" && !tags.includes("administrator")) {
    throw notAuthorised("Not administrator user");
  }
  if (access === "monitoring" && !tags.includes("administrator") && !tags.includes("monitoring")) {
    throw notAuthorised("Not monitor user");
  }
}

/** True if the user may use the management API at all. */
export function isManagementUser(user: User): boolean {
  return user.tags.some((t) => MANAGEMENT_TAGS.includes(t));
}

/** Vhost names in URLs: RabbitMQ's `amq.default` names the default exchange. */
export function exchangeParam(name: string): string {
  return name === "amq.default" ? "" : name;
}

/** A 201 (created) or 204 (it existed) answer with no body, as RabbitMQ's PUTs give. */
export function createdOrNoContent(c: Ctx, created: boolean): Response {
  return c.body(null, created ? 201 : 204);
}

export { HttpError };

/** A path parameter (decoded); 404 if absent. */
export function param(c: Ctx, name: string): string {
  const v = c.req.param(name as never) as string | undefined;
  if (v === undefined) throw new HttpError(404, "Object Not Found", "Not Found");
  return v;
}
