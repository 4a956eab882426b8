/**
 * `/api/users`, `/api/vhosts` and `/api/permissions`.
 *
 * @module
 */

import type { Broker } from "../../../core/mod.ts";
import {
  listPermissions,
  parseTags,
  permissionTable,
  putPermission,
  putUser,
  userCredentials,
} from "../../definitions.ts";
import { type Api, createdOrNoContent, param } from "../api.ts";
import { formatVHost } from "../format.ts";
import { badRequest, HttpError, notFound, type Row } from "../_util.ts";

function userRow(broker: Broker, name: string): Row | undefined {
  const u = broker.users.get(name);
  if (!u) return undefined;
  return { name, ...userCredentials(broker, name), tags: [...u.tags], limits: {} };
}

/**
 * Deletes a vhost: closes its connections (320 CONNECTION_FORCED) and removes its queues and
 * exchanges; the kernel's own `deleteVHost` is used when it has one.
 */
export function deleteVHost(broker: Broker, name: string): void {
  const b = broker as unknown as { deleteVHost?(name: string): unknown };
  if (typeof b.deleteVHost === "function") {
    b.deleteVHost(name);
    return;
  }
  const v = broker.vhosts.get(name);
  if (!v) return;
  for (const c of [...broker.connections]) {
    if (c.vhost === v) c.forceClose(`vhost '${name}' is deleted`);
  }
  for (const q of [...v.queues.values()]) v.removeQueue(q);
  broker.vhosts.delete(name);
  const table = permissionTable(broker) as unknown as { clearVHost?(vhost: string): void } | undefined;
  table?.clearVHost?.(name);
}

function checkPatterns(body: Record<string, unknown>): { configure: string; write: string; read: string } {
  const out: Record<string, string> = {};
  for (const k of ["configure", "write", "read"]) {
    const v = body[k];
    if (v === undefined) throw badRequest(`[{key_missing,${k}}]`);
    if (typeof v !== "string") throw badRequest(`${k} must be a string`);
    try {
      new RegExp(v);
    } catch {
      throw badRequest(`invalid regular expression '${v}' for ${k}`);
    }
    out[k] = v;
  }
  return out as { configure: string; write: string; read: string };
}

/** Adds the routes of this file. */
export function accessRoutes(api: Api): void {
  const broker = api.broker;

  // ---------------------------------------------------------------- users

  api.route("/api/users", {
    GET: ["administrator", (c) =>
      api.list(c, broker.users.names(), {
        nameOf: (n) => n,
        format: (n) => userRow(broker, n)!,
      })],
  });
  api.route("/api/users/without-permissions", {
    GET: ["administrator", (c) => {
      const names = broker.users.names().filter((n) => listPermissions(broker, { user: n }).length === 0);
      return api.list(c, names, { nameOf: (n) => n, format: (n) => userRow(broker, n)! });
    }],
  });
  api.route("/api/users/:name", {
    GET: ["administrator", (c) => {
      const row = userRow(broker, param(c, "name"));
      if (!row) throw notFound();
      return api.one(c, row);
    }],
    PUT: ["administrator", async (c) => {
      const name = param(c, "name");
      const body = await api.body(c);
      if (body.tags === undefined) throw badRequest("tags_not_present");
      if (typeof body.tags !== "string" && !Array.isArray(body.tags)) {
        throw badRequest("tags must be a string or a list");
      }
      if (body.password !== undefined && typeof body.password !== "string") {
        throw badRequest("password must be a string");
      }
      if (body.password_hash !== undefined && typeof body.password_hash !== "string") {
        throw badRequest("password_hash must be a string");
      }
      if (name === "") throw badRequest("user name must not be empty");
      const existed = broker.users.get(name) !== undefined;
      try {
        putUser(broker, {
          name,
          password: body.password as string | undefined,
          password_hash: body.password_hash as string | undefined,
          hashing_algorithm: typeof body.hashing_algorithm === "string" ? body.hashing_algorithm : undefined,
          tags: parseTags(body.tags),
        });
      } catch (err) {
        if (err instanceof TypeError) throw badRequest(err.message);
        throw err;
      }
      return createdOrNoContent(c, !existed);
    }],
    DELETE: ["administrator", (c) => {
      const name = param(c, "name");
      if (!broker.users.delete(name)) throw notFound();
      const table = permissionTable(broker) as unknown as { clearUser?(user: string): void } | undefined;
      table?.clearUser?.(name);
      return c.body(null, 204);
    }],
  });
  api.route("/api/users/:name/permissions", {
    GET: ["administrator", (c) => {
      const name = param(c, "name");
      if (!broker.users.get(name)) throw notFound();
      return api.list(c, listPermissions(broker, { user: name }), {
        defaultSort: ["vhost"],
        format: (p) => ({ ...p }),
      });
    }],
  });

  // ---------------------------------------------------------------- vhosts

  api.route("/api/vhosts", {
    GET: ["management", (c) =>
      api.list(c, api.visibleVhosts(c.get("user")), {
        nameOf: (v) => v.name,
        format: (v) => formatVHost(v, api.fmt()),
      })],
  });
  api.route("/api/vhosts/:vhost", {
    GET: ["management", (c) => api.one(c, formatVHost(api.vhost(c, param(c, "vhost")), api.fmt()))],
    PUT: ["administrator", async (c) => {
      const name = param(c, "vhost");
      await api.body(c); // description, tags, default_queue_type: accepted, not stored yet
      if (name === "") throw badRequest("vhost name must not be empty");
      const existed = broker.vhosts.has(name);
      broker.addVHost(name);
      if (!existed) {
        // As RabbitMQ: the user who creates a vhost gets full permissions in it.
        putPermission(broker, {
          user: c.get("user").name,
          vhost: name,
          configure: ".*",
          write: ".*",
          read: ".*",
        });
      }
      return createdOrNoContent(c, !existed);
    }],
    DELETE: ["administrator", (c) => {
      const name = param(c, "vhost");
      if (!broker.vhosts.has(name)) throw notFound();
      deleteVHost(broker, name);
      return c.body(null, 204);
    }],
  });
  api.route("/api/vhosts/:vhost/permissions", {
    GET: ["administrator", (c) => {
      const name = param(c, "vhost");
      if (!broker.vhosts.has(name)) throw notFound();
      return api.list(c, listPermissions(broker, { vhost: name }), {
        defaultSort: ["user"],
        format: (p) => ({ ...p }),
      });
    }],
  });

  // ---------------------------------------------------------------- permissions

  api.route("/api/permissions", {
    GET: [
      "administrator",
      (c) =>
        api.list(c, listPermissions(broker), { defaultSort: ["user", "vhost"], format: (p) => ({ ...p }) }),
    ],
  });
  api.route("/api/permissions/:vhost/:user", {
    GET: ["administrator", (c) => {
      const p = listPermissions(broker, { vhost: param(c, "vhost"), user: param(c, "user") })[0];
      if (!p) throw notFound();
      return api.one(c, { ...p });
    }],
    PUT: ["administrator", async (c) => {
      const vhost = param(c, "vhost");
      const user = param(c, "user");
      const body = await api.body(c);
      if (!broker.vhosts.has(vhost)) throw badRequest(`vhost_not_found: ${vhost}`);
      if (!broker.users.get(user)) throw badRequest(`user_not_found: ${user}`);
      const patterns = checkPatterns(body);
      const table = permissionTable(broker);
      if (!table) {
        throw new HttpError(501, "not_implemented", "permissions are not stored by this broker yet");
      }
      const existed = table.get(user, vhost) !== undefined;
      table.set(user, vhost, patterns);
      return createdOrNoContent(c, !existed);
    }],
    DELETE: ["administrator", (c) => {
      const table = permissionTable(broker);
      if (!table || !table.clear(param(c, "user"), param(c, "vhost"))) throw notFound();
      return c.body(null, 204);
    }],
  });
}
