/**
 * `deno task ctl`: an operator's command line over the management HTTP API, with the verbs of
 * `rabbitmqctl` / `rabbitmqadmin`.
 *
 * ```
 * deno task ctl [--url http://127.0.0.1:15672] [--user guest] [--password guest] VERB [ARGS]
 *   list queues|exchanges|bindings|connections|channels|consumers|users|vhosts|permissions|policies [--vhost V]
 *   add_user NAME PASSWORD [--tags a,b]     delete_user NAME
 *   add_vhost NAME                          delete_vhost NAME
 *   set_permissions USER CONF WRITE READ [--vhost V]
 *   set_policy NAME PATTERN DEFINITION [--vhost V] [--apply-to queues] [--priority 0]
 *   clear_policy NAME [--vhost V]
 *   export FILE|-                           import FILE|-
 *   close_connection NAME [REASON]
 * ```
 *
 * Lists print tab-separated columns with a header line. Exits 0 on success, 1 with one line on
 * stderr otherwise (the API's reason included).
 *
 * @module
 */

import process from "node:process";
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

const COLUMNS: Record<string, string[]> = {
  queues: [
    "vhost",
    "name",
    "durable",
    "auto_delete",
    "messages",
    "messages_ready",
    "messages_unacknowledged",
    "consumers",
  ],
  exchanges: ["vhost", "name", "type", "durable", "auto_delete", "internal"],
  bindings: ["vhost", "source", "destination", "destination_type", "routing_key"],
  connections: ["name", "user", "vhost", "state", "channels"],
  channels: ["name", "user", "vhost", "consumer_count", "messages_unacknowledged"],
  consumers: ["queue.vhost", "queue.name", "consumer_tag", "ack_required", "prefetch_count"],
  users: ["name", "tags"],
  vhosts: ["name", "messages"],
  permissions: ["user", "vhost", "configure", "write", "read"],
  policies: ["vhost", "name", "pattern", "apply-to", "definition", "priority"],
};

const USAGE = `usage: deno task ctl [--url URL] [--user U] [--password P] VERB [ARGS]
  list queues|exchanges|bindings|connections|channels|consumers|users|vhosts|permissions|policies
       [--vhost V]
  add_user NAME PASSWORD [--tags a,b]      delete_user NAME
  add_vhost NAME                           delete_vhost NAME
  set_permissions USER CONF WRITE READ [--vhost V]
  set_policy NAME PATTERN DEFINITION [--vhost V] [--apply-to queues] [--priority 0]
  clear_policy NAME [--vhost V]
  export FILE|-                            import FILE|-
  close_connection NAME [REASON]
`;

class CtlError extends Error {}

function cell(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (Array.isArray(v)) return v.join(",");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function pick(row: Record<string, unknown>, path: string): unknown {
  let v: unknown = row;
  for (const p of path.split(".")) {
    v = v && typeof v === "object" ? (v as Record<string, unknown>)[p] : undefined;
  }
  return v;
}

/** Runs one command; returns what to print on stdout. Exported for tests. */
export async function runCtl(argv: string[], env: Record<string, string | undefined> = {}): Promise<string> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      user: { type: "string" },
      password: { type: "string" },
      vhost: { type: "string" },
      tags: { type: "string" },
      "apply-to": { type: "string" },
      priority: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || positionals.length === 0) return USAGE;
  const base = (values.url ?? env.WARREN_URL ?? "http://127.0.0.1:15672").replace(/\/$/, "");
  const auth = `Basic ${
    btoa(`${values.user ?? env.WARREN_USER ?? "guest"}:${values.password ?? env.WARREN_PASSWORD ?? "guest"}`)
  }`;
  const vhost = values.vhost ?? "/";
  const enc = encodeURIComponent;

  async function call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: { authorization: auth, "content-type": "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CtlError(`cannot reach ${base}: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) {
      let reason = text || res.statusText;
      try {
        const j = JSON.parse(text);
        reason = typeof j.reason === "string" ? j.reason : JSON.stringify(j.reason ?? j);
      } catch { /* not JSON */ }
      // One line: a policy's "Validation failed\n\n…" too, with the API's HTML escapes undone.
      reason = reason.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/\s*\n\s*/g, " ").trim();
      throw new CtlError(`${method} ${path}: ${res.status} ${reason}`);
    }
    return text === "" ? null : JSON.parse(text);
  }

  const [verb, ...args] = positionals;
  const need = (n: number) => {
    if (args.length < n) throw new CtlError(`${verb}: expected ${n} argument(s)\n${USAGE}`);
  };
  switch (verb) {
    case "list": {
      need(1);
      const what = args[0];
      const columns = COLUMNS[what];
      if (!columns) throw new CtlError(`list: unknown kind '${what}'`);
      const scoped = values.vhost !== undefined &&
        ["queues", "exchanges", "bindings", "consumers", "policies"].includes(what);
      const path = `/api/${what}${scoped ? `/${enc(vhost)}` : ""}`;
      const rows = await call("GET", path) as Record<string, unknown>[];
      const lines = [columns.join("\t"), ...rows.map((r) => columns.map((c) => cell(pick(r, c))).join("\t"))];
      return lines.join("\n") + "\n";
    }
    case "add_user":
      need(2);
      await call("PUT", `/api/users/${enc(args[0])}`, { password: args[1], tags: values.tags ?? "" });
      return `user '${args[0]}' added\n`;
    case "delete_user":
      need(1);
      await call("DELETE", `/api/users/${enc(args[0])}`);
      return `user '${args[0]}' deleted\n`;
    case "add_vhost":
      need(1);
      await call("PUT", `/api/vhosts/${enc(args[0])}`);
      return `vhost '${args[0]}' added\n`;
    case "delete_vhost":
      need(1);
      await call("DELETE", `/api/vhosts/${enc(args[0])}`);
      return `vhost '${args[0]}' deleted\n`;
    case "set_permissions":
      need(4);
      await call("PUT", `/api/permissions/${enc(vhost)}/${enc(args[0])}`, {
        configure: args[1],
        write: args[2],
        read: args[3],
      });
      return `permissions of '${args[0]}' in vhost '${vhost}' set\n`;
    case "set_policy": {
      need(3);
      let definition: unknown;
      try {
        definition = JSON.parse(args[2]);
      } catch {
        throw new CtlError("set_policy: DEFINITION must be JSON");
      }
      await call("PUT", `/api/policies/${enc(vhost)}/${enc(args[0])}`, {
        pattern: args[1],
        definition,
        "apply-to": values["apply-to"] ?? "all",
        priority: Number(values.priority ?? 0),
      });
      return `policy '${args[0]}' set in vhost '${vhost}'\n`;
    }
    case "clear_policy":
      need(1);
      await call("DELETE", `/api/policies/${enc(vhost)}/${enc(args[0])}`);
      return `policy '${args[0]}' cleared in vhost '${vhost}'\n`;
    case "export": {
      need(1);
      const defs = JSON.stringify(await call("GET", "/api/definitions"), null, 2) + "\n";
      if (args[0] === "-") return defs;
      writeFileSync(args[0], defs);
      return `definitions exported to ${args[0]}\n`;
    }
    case "import": {
      need(1);
      const text = args[0] === "-" ? readFileSync(0, "utf8") : readFileSync(args[0], "utf8");
      let defs: unknown;
      try {
        defs = JSON.parse(text);
      } catch {
        throw new CtlError(`import: ${args[0]} is not JSON`);
      }
      await call("POST", "/api/definitions", defs);
      return `definitions imported from ${args[0]}\n`;
    }
    case "close_connection":
      need(1);
      await call(
        "DELETE",
        `/api/connections/${enc(args[0])}`,
        undefined,
        args[1] ? { "x-reason": args[1] } : {},
      );
      return `connection '${args[0]}' closed\n`;
    default:
      throw new CtlError(`unknown verb '${verb}'\n${USAGE}`);
  }
}

if (import.meta.main) {
  try {
    process.stdout.write(await runCtl(process.argv.slice(2), process.env));
  } catch (err) {
    process.stderr.write(`warren ctl: ${err instanceof CtlError ? err.message : (err as Error).message}\n`);
    process.exit(1);
  }
}
