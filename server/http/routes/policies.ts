/**
 * `/api/policies…`: RabbitMQ's policies, set through the kernel (`broker.setPolicy`), which
 * validates them in RabbitMQ's words and applies them at once to matching queues and exchanges.
 *
 * Access as RabbitMQ 3.10 answers it (checked against a real node): any management user lists
 * the policies of the vhosts it has a permission in (administrators: every vhost); reading,
 * setting or clearing one policy needs `administrator`, or `policymaker` with access to its vhost
 * (401 "User not authorised to access object" otherwise).
 *
 * @module
 */

import { type Policy, PolicyError } from "../../../core/mod.ts";
import { policyDefinition } from "../../definitions.ts";

/** A policy in RabbitMQ's JSON shape (the same as in definitions). */
const formatPolicy = (p: Policy): Row => ({ ...policyDefinition(p) });
import { type Api, createdOrNoContent, type Ctx, param } from "../api.ts";
import { badRequest, HttpError, notAuthorised, notFound, type Row } from "../_util.ts";

/** RabbitMQ's management API escapes the Erlang binaries (`<<"x">>`) of a validation reason. */
function escapeTags(text: string): string {
  return text.replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Adds the routes of this file. */
export function policyRoutes(api: Api): void {
  const broker = api.broker;
  const list = { defaultSort: ["priority", "name"], nameOf: (p: Policy) => p.name, format: formatPolicy };

  /** A vhost whose policies the caller may list: 404 if missing, 401 without access. */
  const listableVhost = (c: Ctx, name: string): string => {
    if (!broker.vhosts.has(name)) throw notFound();
    const user = c.get("user");
    if (!api.isAdmin(user) && !api.hasVhostAccess(user, name)) {
      throw notAuthorised("User not authorised to access virtual host");
    }
    return name;
  };

  /** Only administrators, and policymakers with access to the vhost, touch one policy. */
  const checkPolicymaker = (c: Ctx, vhost: string): void => {
    const user = c.get("user");
    if (api.isAdmin(user)) return;
    if (user.tags.includes("policymaker") && api.hasVhostAccess(user, vhost)) return;
    throw notAuthorised("User not authorised to access object");
  };

  api.route("/api/policies", {
    GET: ["management", (c) => {
      const user = c.get("user");
      const visible = broker.policies().filter((p) => api.isAdmin(user) || api.hasVhostAccess(user, p.vhost));
      return api.list(c, visible, list);
    }],
  });
  api.route("/api/policies/:vhost", {
    GET: ["management", (c) => api.list(c, broker.policies(listableVhost(c, param(c, "vhost"))), list)],
  });
  api.route("/api/policies/:vhost/:name", {
    GET: ["management", (c) => {
      const vhost = param(c, "vhost");
      const v = broker.vhosts.get(vhost);
      checkPolicymaker(c, vhost);
      const p = v?.policies.get(param(c, "name"));
      if (!p) throw notFound();
      return api.one(c, formatPolicy(p));
    }],
    PUT: ["management", async (c) => {
      const vhost = param(c, "vhost");
      const name = param(c, "name");
      if (!broker.vhosts.has(vhost)) throw new HttpError(404, "not_found", "vhost_not_found");
      checkPolicymaker(c, vhost);
      const body = await api.body(c);
      for (const key of ["pattern", "definition"]) {
        if (body[key] === undefined) throw badRequest(`[{key_missing,${key}}]`);
      }
      try {
        return createdOrNoContent(c, broker.setPolicy(vhost, name, body));
      } catch (err) {
        if (err instanceof PolicyError) throw badRequest(escapeTags(err.reason));
        throw err;
      }
    }],
    DELETE: ["management", (c) => {
      const vhost = param(c, "vhost");
      if (!broker.vhosts.has(vhost)) throw notFound();
      checkPolicymaker(c, vhost);
      if (!broker.clearPolicy(vhost, param(c, "name"))) throw notFound();
      return c.body(null, 204);
    }],
  });
}
