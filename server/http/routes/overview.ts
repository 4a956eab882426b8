/**
 * `/api/overview`, `/api/whoami`, `/api/nodes`, `/api/health/checks/alarms`,
 * `/api/aliveness-test/:vhost` and `/api/definitions`.
 *
 * @module
 */

import { Message, type Queue, type VHost } from "../../../core/mod.ts";
import {
  DefinitionsError,
  exportDefinitions,
  importDefinitions,
  PRODUCT_NAME,
  RABBIT_VERSION,
} from "../../definitions.ts";
import { type Api, type Ctx, param } from "../api.ts";
import { queueTotals } from "../format.ts";
import { churnRates, type DepthStats, messageStats } from "../rates.ts";
import { badRequest, kernel, notFound } from "../_util.ts";
import { encodeProperties, settle } from "./_messages.ts";
import { residentMemory } from "../../resources.ts";

/** Warren's version, reported as the product version. */
export const WARREN_VERSION = "0.1.0";

function exchangeTypes(api: Api) {
  return api.broker.plugins().filter((p) => p.stage === "exchange").map((p) => ({
    name: p.name,
    description: `${p.name} exchange (plugin)`,
    enabled: true,
  }));
}

/** Adds the routes of this file. */
export function overviewRoutes(api: Api): void {
  const broker = api.broker;

  api.route("/api/overview", {
    GET: ["management", (c) => {
      const user = c.get("user");
      const vhosts = api.visibleVhosts(user);
      let exchanges = 0;
      let queues = 0;
      let consumers = 0;
      const queueList: Queue[] = [];
      for (const v of vhosts) {
        exchanges += v.exchanges.size;
        queues += v.queues.size;
        for (const q of v.queues.values()) {
          consumers += q.consumerCount;
          queueList.push(q);
        }
      }
      const conns = [...broker.connections].filter((x) => api.isMonitor(user) || x.user?.name === user.name);
      let channels = 0;
      for (const x of conns) channels += x.channels.size;
      const listeners = [];
      if (api.options.amqp) {
        listeners.push({
          node: api.node,
          protocol: "amqp",
          ip_address: api.options.amqp.host,
          port: api.options.amqp.port,
        });
      }
      if (api.options.http) {
        listeners.push({
          node: api.node,
          protocol: "http",
          ip_address: api.options.http.host,
          port: api.options.http.port,
        });
      }
      return api.one(c, {
        management_version: RABBIT_VERSION,
        rates_mode: "basic",
        // Warren keeps no samples: rates are over the last completed window (see rates.ts).
        sample_retention_policies: { global: [], basic: [], detailed: [] },
        exchange_types: exchangeTypes(api),
        product_version: WARREN_VERSION,
        product_name: PRODUCT_NAME,
        rabbitmq_version: RABBIT_VERSION,
        cluster_name: api.node,
        node: api.node,
        disable_stats: false,
        enable_queue_totals: true,
        message_stats: messageStats(broker.stats, api.now()),
        churn_rates: churnRates(broker.churn, api.now()),
        queue_totals: overviewTotals(api, vhosts, queueList),
        object_totals: { channels, connections: conns.length, consumers, exchanges, queues },
        statistics_db_event_queue: 0,
        listeners,
        contexts: contexts(),
      });
    }],
  });

  api.route("/api/whoami", {
    GET: ["management", (c) => {
      const user = c.get("user");
      return c.json({ name: user.name, tags: [...user.tags] });
    }],
  });

  const contexts = () =>
    api.options.http
      ? [{
        node: api.node,
        description: "RabbitMQ Management",
        path: "/",
        ip: api.options.http.host,
        port: String(api.options.http.port),
      }]
      : [];
  const node = () => ({
    name: api.node,
    type: "disc",
    running: true,
    partitions: [],
    os_pid: String(
      (globalThis as unknown as { Deno?: { pid: number } }).Deno?.pid ??
        (globalThis as unknown as { process?: { pid: number } }).process?.pid ?? 0,
    ),
    ...nodeResources(api),
    mem_alarm: broker.alarms.has("memory"),
    disk_free_alarm: broker.alarms.has("disk"),
    mem_calculation_strategy: "rss",
    sockets_used: broker.connections.size,
    enabled_plugins: broker.plugins().map((p) => p.name),
    uptime: api.now() - api.startedAt,
    processors: navigator.hardwareConcurrency ?? 1,
    run_queue: 0,
    rates_mode: "basic",
    exchange_types: exchangeTypes(api),
    auth_mechanisms: [
      { name: "PLAIN", description: "SASL PLAIN authentication mechanism", enabled: true },
      { name: "AMQPLAIN", description: "QPid AMQPLAIN mechanism", enabled: true },
    ],
    applications: [{ name: "warren", description: "Warren AMQP 0-9-1 broker", version: WARREN_VERSION }],
    contexts: contexts(),
  });
  api.route("/api/nodes", { GET: ["monitoring", (c) => api.list(c, [node()], { format: (n) => n })] });
  api.route("/api/nodes/:name", {
    GET: ["monitoring", (c) => {
      if (param(c, "name") !== api.node) throw notFound();
      return api.one(c, node());
    }],
  });

  // The memory and disk alarms the resource monitor raises, answered as RabbitMQ does (503).
  const alarms = (where: string) => (c: Ctx) => {
    if (broker.alarms.size === 0) return c.json({ status: "ok" });
    return c.json({
      status: "failed",
      reason: `resource alarm(s) in effect ${where}`,
      alarms: [...broker.alarms].sort().map((resource) => ({ node: api.node, resource })),
    }, 503);
  };
  api.route("/api/health/checks/alarms", { GET: ["management", alarms("in the cluster")] });
  api.route("/api/health/checks/local-alarms", { GET: ["management", alarms("on the node")] });

  api.route("/api/aliveness-test/:vhost", {
    GET: ["management", (c) => {
      const v = api.vhost(c, param(c, "vhost"), true);
      // As RabbitMQ: declare `aliveness-test`, publish a message to it and get it back.
      const q = kernel(() =>
        v.declareQueue({
          name: "aliveness-test",
          passive: false,
          durable: false,
          exclusive: false,
          autoDelete: false,
          args: {},
          owner: null,
        })
      );
      q.enqueue(
        new Message("", "aliveness-test", encodeProperties({}), new TextEncoder().encode("test_message")),
      );
      const d = q.take();
      if (d) settle(q, d);
      if (!d || new TextDecoder().decode(d.message.body) !== "test_message") {
        return c.json({ status: "failed", reason: "message not received" }, 503);
      }
      return c.json({ status: "ok" });
    }],
  });

  api.route("/api/definitions", {
    GET: ["administrator", (c) => c.json(exportDefinitions(broker))],
    POST: ["administrator", async (c) => {
      importBody(api, await api.body(c));
      return c.body(null, 204);
    }],
  });
  api.route("/api/definitions/:vhost", {
    GET: ["administrator", (c) => {
      const name = param(c, "vhost");
      if (!broker.vhosts.has(name)) throw notFound();
      const all = exportDefinitions(broker);
      const only = <T extends { vhost: string }>(l: T[] | undefined) =>
        (l ?? []).filter((x) => x.vhost === name);
      return c.json({
        rabbit_version: all.rabbit_version,
        rabbitmq_version: all.rabbitmq_version,
        product_name: all.product_name,
        product_version: all.product_version,
        parameters: [],
        policies: only(all.policies),
        queues: only(all.queues),
        exchanges: only(all.exchanges),
        bindings: only(all.bindings),
      });
    }],
    POST: ["administrator", async (c) => {
      const name = param(c, "vhost");
      if (!broker.vhosts.has(name)) throw notFound();
      const body = await api.body(c);
      // Objects go into this vhost whatever vhost the file names; users and vhosts are ignored.
      const into = <T>(l: unknown) =>
        Array.isArray(l) ? l.map((x) => (x && typeof x === "object" ? { ...x, vhost: name } : x)) as T[] : l;
      importBody(api, {
        queues: into(body.queues),
        exchanges: into(body.exchanges),
        bindings: into(body.bindings),
        policies: into(body.policies),
        parameters: body.parameters,
      });
      return c.body(null, 204);
    }],
  });
}

/**
 * `queue_totals` of the overview: over every vhost, the broker's own rate window; over some
 * (a user who sees only its vhosts), the sum of those vhosts' windows.
 */
function overviewTotals(api: Api, vhosts: VHost[], queues: Queue[]): DepthStats {
  const now = api.now();
  if (vhosts.length === api.broker.vhosts.size) return queueTotals(queues, api.broker, now);
  const sum = { messages: 0, ready: 0, unacked: 0 };
  const rates = [0, 0, 0];
  for (const v of vhosts) {
    const t = queueTotals(v.queues.values(), v, now);
    sum.messages += t.messages;
    sum.ready += t.messages_ready;
    sum.unacked += t.messages_unacknowledged;
    rates[0] += t.messages_details.rate;
    rates[1] += t.messages_ready_details.rate;
    rates[2] += t.messages_unacknowledged_details.rate;
  }
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    messages: sum.messages,
    messages_details: { rate: r(rates[0]) },
    messages_ready: sum.ready,
    messages_ready_details: { rate: r(rates[1]) },
    messages_unacknowledged: sum.unacked,
    messages_unacknowledged_details: { rate: r(rates[2]) },
  };
}

/** Memory and disk as the resource monitor last measured them (memory read now without one). */
function nodeResources(api: Api): Record<string, number> {
  const r = api.options.resources?.();
  if (r === undefined) return { mem_used: residentMemory() };
  const out: Record<string, number> = {
    mem_used: r.memoryUsed,
    mem_limit: r.memoryLimit,
    disk_free_limit: r.diskFreeLimit,
  };
  // Without a data directory nothing is measured on disk (Infinity is not JSON).
  if (Number.isFinite(r.diskFree)) out.disk_free = r.diskFree;
  return out;
}

function importBody(api: Api, body: Record<string, unknown>): void {
  try {
    importDefinitions(api.broker, body);
  } catch (err) {
    if (err instanceof DefinitionsError) throw badRequest(err.message);
    throw err;
  }
}
