/**
 * `/api/exchanges…`, `/api/queues…` and `/api/bindings…`.
 *
 * @module
 */

import type { Exchange, Queue, VHost } from "../../../core/mod.ts";
import { fieldTableToJson, jsonToFieldTable } from "../../definitions.ts";
import { type Api, createdOrNoContent, type Ctx, exchangeParam, param } from "../api.ts";
import { type BindingRow, formatConsumer, formatExchange, formatQueue, vhostBindingRows } from "../format.ts";
import { badRequest, boolField, kernel, notAuthorised, notFound, type Row, strField } from "../_util.ts";
import { type AckMode, getMessages, propertiesFromJson, publish } from "./_messages.ts";
import { depthRates, ratesOf, STAT_FIELDS } from "../rates.ts";

/** Owner token of objects declared over HTTP (never exclusive). */
const HTTP_OWNER = {};

function args(body: Record<string, unknown>) {
  try {
    return jsonToFieldTable(body.arguments, "arguments");
  } catch (err) {
    throw badRequest((err as Error).message);
  }
}

function exchangeIn(v: VHost, name: string): Exchange {
  const e = v.exchanges.get(exchangeParam(name));
  if (!e) throw notFound();
  return e;
}

function queueIn(v: VHost, name: string): Queue {
  const q = v.queues.get(name);
  if (!q) throw notFound();
  return q;
}

/**
 * Queue columns a list can be sorted by without formatting every queue (what `formatQueue`
 * shows for them); others (rates, arguments…) format the whole list first.
 */
const QUEUE_SORT_KEYS = new Map<string, (q: Queue) => unknown>([
  ["name", (q) => q.name],
  ["vhost", (q) => q.vhost],
  ["messages", (q) => q.messageCount + q.unackedCount],
  ["messages_ready", (q) => q.messageCount],
  ["messages_unacknowledged", (q) => q.unackedCount],
  ["message_bytes", (q) => q.messageBytes + q.unackedBytes],
  ["message_bytes_ready", (q) => q.messageBytes],
  ["message_bytes_unacknowledged", (q) => q.unackedBytes],
  ["consumers", (q) => q.consumerCount],
  ["durable", (q) => q.options.durable],
  ["auto_delete", (q) => q.options.autoDelete],
  ["exclusive", (q) => q.options.exclusive],
  ["policy", (q) => q.policy?.name ?? null],
  ...STAT_FIELDS.map(([name, field]) => [`message_stats.${name}`, (q: Queue) => q.stats[field]] as const),
]);

/** The sort key of a queue column, rates included (read from the same windows the rows show). */
function queueSortKey(column: string, now: number): ((q: Queue) => unknown) | undefined {
  const plain = QUEUE_SORT_KEYS.get(column);
  if (plain) return plain;
  const depth = DEPTH_RATES.indexOf(column);
  if (depth >= 0) return (q) => depthRates(q, q.messageCount, q.unackedCount, now)[depth];
  const stat = STAT_FIELDS.findIndex(([name]) => column === `message_stats.${name}_details.rate`);
  if (stat >= 0) return (q) => ratesOf(q.stats, now)[stat];
  return undefined;
}

const DEPTH_RATES = [
  "messages_details.rate",
  "messages_ready_details.rate",
  "messages_unacknowledged_details.rate",
];

const ACK_MODES: readonly AckMode[] = [
  "ack_requeue_true",
  "ack_requeue_false",
  "reject_requeue_true",
  "reject_requeue_false",
];

/** Adds the routes of this file. */
export function objectRoutes(api: Api): void {
  const broker = api.broker;
  const fmtExchange = (e: Exchange) => formatExchange(e, api.fmt());
  const allExchanges = (vhosts: VHost[]) => vhosts.flatMap((v) => [...v.exchanges.values()]);
  const exchangeList = { defaultSort: ["vhost", "name"], format: fmtExchange };

  // ---------------------------------------------------------------- exchanges

  api.route("/api/exchanges", {
    GET: ["management", (c) => api.list(c, allExchanges(api.visibleVhosts(c.get("user"))), exchangeList)],
  });
  api.route("/api/exchanges/:vhost", {
    GET: ["management", (c) => api.list(c, allExchanges([api.vhost(c, param(c, "vhost"))]), exchangeList)],
  });
  api.route("/api/exchanges/:vhost/:name", {
    GET: [
      "management",
      (c) => {
        const row = fmtExchange(exchangeIn(api.vhost(c, param(c, "vhost")), param(c, "name")));
        // RabbitMQ's per-exchange publish details need its fine-grained stats: empty here.
        row.incoming = [];
        row.outgoing = [];
        return api.one(c, row);
      },
    ],
    PUT: ["management", async (c) => {
      const v = api.vhost(c, param(c, "vhost"), true);
      const name = param(c, "name");
      const body = await api.body(c);
      if (name === "amq.default" || name === "") throw notAuthorised("Access refused.");
      api.checkResource(c, v.name, "configure", "exchange", name);
      const existed = v.exchanges.has(name);
      kernel(() =>
        v.declareExchange({
          name,
          type: strField(body, "type", "direct"),
          passive: false,
          durable: boolField(body, "durable", true),
          autoDelete: boolField(body, "auto_delete", false),
          internal: boolField(body, "internal", false),
          args: args(body),
        })
      );
      return createdOrNoContent(c, !existed);
    }],
    DELETE: ["management", (c) => {
      const v = api.vhost(c, param(c, "vhost"), true);
      const name = exchangeParam(param(c, "name"));
      const e = exchangeIn(v, param(c, "name"));
      api.checkResource(c, v.name, "configure", "exchange", e.name);
      kernel(() => v.deleteExchange(name, c.req.query("if-unused") === "true"));
      return c.body(null, 204);
    }],
  });
  api.route("/api/exchanges/:vhost/:name/bindings/source", {
    GET: ["management", (c) => {
      const v = api.vhost(c, param(c, "vhost"));
      const e = exchangeIn(v, param(c, "name"));
      return api.list(c, vhostBindingRows(v).filter((b) => b.source === e.name), { format: (b) => b });
    }],
  });
  api.route("/api/exchanges/:vhost/:name/bindings/destination", {
    GET: ["management", (c) => {
      const v = api.vhost(c, param(c, "vhost"));
      const e = exchangeIn(v, param(c, "name"));
      return api.list(
        c,
        vhostBindingRows(v).filter((b) => b.destination_type === "exchange" && b.destination === e.name),
        { format: (b) => b },
      );
    }],
  });
  api.route("/api/exchanges/:vhost/:name/publish", {
    POST: ["management", async (c) => {
      const v = api.vhost(c, param(c, "vhost"), true);
      const body = await api.body(c);
      const e = v.exchanges.get(exchangeParam(param(c, "name")));
      if (!e) throw badRequest(`404 NOT_FOUND - no exchange '${param(c, "name")}' in vhost '${v.name}'`);
      api.checkResource(c, v.name, "write", "exchange", e.name);
      const routingKey = strField(body, "routing_key");
      const payload = strField(body, "payload");
      const encoding = strField(body, "payload_encoding");
      if (body.properties === undefined) throw badRequest("[{key_missing,properties}]");
      let bytes: Uint8Array;
      if (encoding === "string") bytes = new TextEncoder().encode(payload);
      else if (encoding === "base64") {
        try {
          bytes = Uint8Array.from(atob(payload), (ch) => ch.charCodeAt(0));
        } catch {
          throw badRequest("payload is not valid base64");
        }
      } else throw badRequest(`payload_encoding must be "string" or "base64"`);
      if (e.options.internal) {
        throw badRequest(
          `403 ACCESS_REFUSED - cannot publish to internal exchange '${e.name}' in vhost '${v.name}'`,
        );
      }
      if (bytes.length > broker.config.maxMessageSize) throw badRequest("message too large");
      const routed = kernel(() =>
        publish(broker, v, e, {
          routingKey,
          properties: propertiesFromJson(body.properties),
          body: bytes,
          user: c.get("user"),
        })
      );
      return c.json({ routed });
    }],
  });

  // ---------------------------------------------------------------- queues

  const fmtQueue = (q: Queue) => formatQueue(q, api.fmt());
  const queueList = {
    nameOf: (q: Queue) => `${q.vhost}\u0000${q.name}`,
    sortKey: (column: string) => queueSortKey(column, api.now()),
    format: fmtQueue,
  };
  const allQueues = (vhosts: VHost[]) => vhosts.flatMap((v) => [...v.queues.values()]);
  const queueListFor = (c: Ctx, queues: Queue[]) => {
    // name= filters on the queue name, not on the vhost-prefixed sort key.
    const filter = c.req.query("name");
    if (filter !== undefined && filter !== "") {
      return api.list(c, queues, { ...queueList, nameOf: (q) => q.name });
    }
    return api.list(c, queues, queueList);
  };

  api.route("/api/queues", {
    GET: ["management", (c) => queueListFor(c, allQueues(api.visibleVhosts(c.get("user"))))],
  });
  api.route("/api/queues/:vhost", {
    GET: ["management", (c) => queueListFor(c, allQueues([api.vhost(c, param(c, "vhost"))]))],
  });
  api.route("/api/queues/:vhost/:name", {
    GET: ["management", (c) => {
      const q = queueIn(api.vhost(c, param(c, "vhost")), param(c, "name"));
      const row = fmtQueue(q);
      // Each consumer with its channel, as RabbitMQ shows them (one walk over the connections).
      const fmt = api.fmt();
      const details: Row[] = [];
      if (q.consumerCount > 0) {
        for (const conn of broker.connections) {
          if (conn.vhost?.name !== q.vhost) continue;
          for (const ch of conn.channels.values()) {
            for (const x of ch.consumers.values()) {
              if (x.queue === q) details.push(formatConsumer(conn, ch, x, fmt));
            }
          }
        }
      }
      row.consumer_details = details;
      row.deliveries = [];
      row.incoming = [];
      return api.one(c, row);
    }],
    PUT: ["management", async (c) => {
      const v = api.vhost(c, param(c, "vhost"), true);
      const name = param(c, "name");
      const body = await api.body(c);
      api.checkResource(c, v.name, "configure", "queue", name);
      if (name === "") throw badRequest("queue name must not be empty");
      const existed = v.queues.has(name);
      kernel(() =>
        v.declareQueue({
          name,
          passive: false,
          durable: boolField(body, "durable", true),
          exclusive: false,
          autoDelete: boolField(body, "auto_delete", false),
          args: args(body),
          owner: HTTP_OWNER,
        })
      );
      return createdOrNoContent(c, !existed);
    }],
    DELETE: ["management", (c) => {
      const v = api.vhost(c, param(c, "vhost"), true);
      const q = queueIn(v, param(c, "name"));
      api.checkResource(c, v.name, "configure", "queue", q.name);
      kernel(() =>
        v.deleteQueue(q.name, null, c.req.query("if-unused") === "true", c.req.query("if-empty") === "true")
      );
      return c.body(null, 204);
    }],
  });
  api.route("/api/queues/:vhost/:name/bindings", {
    GET: ["management", (c) => {
      const v = api.vhost(c, param(c, "vhost"));
      const q = queueIn(v, param(c, "name"));
      return api.list(
        c,
        vhostBindingRows(v).filter((b) => b.destination_type === "queue" && b.destination === q.name),
        { format: (b) => b },
      );
    }],
  });
  api.route("/api/queues/:vhost/:name/contents", {
    DELETE: ["management", (c) => {
      const v = api.vhost(c, param(c, "vhost"), true);
      const q = queueIn(v, param(c, "name"));
      api.checkResource(c, v.name, "read", "queue", q.name);
      q.purge();
      return c.body(null, 204);
    }],
  });
  api.route("/api/queues/:vhost/:name/get", {
    POST: ["management", async (c) => {
      const v = api.vhost(c, param(c, "vhost"), true);
      const q = queueIn(v, param(c, "name"));
      const body = await api.body(c);
      api.checkResource(c, v.name, "read", "queue", q.name);
      if (body.count === undefined) throw badRequest("[{key_missing,count}]");
      const count = Number(body.count);
      if (!Number.isInteger(count) || count < 0) throw badRequest("count must be a non-negative integer");
      const ackmode = strField(body, "ackmode") as AckMode;
      if (!ACK_MODES.includes(ackmode)) throw badRequest(`ackmode must be one of ${ACK_MODES.join(", ")}`);
      const encoding = strField(body, "encoding");
      if (encoding !== "auto" && encoding !== "base64") {
        throw badRequest(`encoding must be "auto" or "base64"`);
      }
      let truncate: number | undefined;
      if (body.truncate !== undefined && body.truncate !== null && body.truncate !== "") {
        truncate = Number(body.truncate);
        if (!Number.isInteger(truncate) || truncate < 0) {
          throw badRequest("truncate must be a non-negative integer");
        }
      }
      return c.json(getMessages(broker, q, count, ackmode, encoding, truncate));
    }],
  });

  // ---------------------------------------------------------------- bindings

  const bindingList = {
    defaultSort: ["vhost", "source", "destination_type", "destination", "properties_key"],
    format: (b: BindingRow) => b,
  };
  const bindingsOf = (vhosts: VHost[]) => vhosts.flatMap((v) => vhostBindingRows(v));
  api.route("/api/bindings", {
    GET: ["management", (c) => api.list(c, bindingsOf(api.visibleVhosts(c.get("user"))), bindingList)],
  });
  api.route("/api/bindings/:vhost", {
    GET: ["management", (c) => api.list(c, bindingsOf([api.vhost(c, param(c, "vhost"))]), bindingList)],
  });

  for (const kind of ["q", "e"] as const) {
    const destType = kind === "q" ? "queue" : "exchange";
    const base = `/api/bindings/:vhost/e/:source/${kind}/:destination`;
    const between = (c: Ctx, write: boolean) => {
      const v = api.vhost(c, param(c, "vhost"), write);
      const source = exchangeIn(v, param(c, "source"));
      const destination = param(c, "destination");
      if (kind === "q") queueIn(v, destination);
      else exchangeIn(v, destination);
      const rows = vhostBindingRows(v).filter((b) =>
        b.source === source.name && b.destination_type === destType && b.destination === destination
      );
      return { v, source, destination, rows };
    };
    api.route(base, {
      GET: ["management", (c) => api.list(c, between(c, false).rows, bindingList)],
      POST: ["management", async (c) => {
        const { v, source, destination } = between(c, true);
        const body = await api.body(c);
        const routingKey = strField(body, "routing_key", "");
        const a = args(body);
        if (source.name === "") throw notAuthorised("Access refused.");
        api.checkResource(c, v.name, "read", "exchange", source.name);
        api.checkResource(c, v.name, "write", destType, destination);
        kernel(() => {
          if (kind === "q") v.bindQueue(destination, HTTP_OWNER, source.name, routingKey, a);
          else v.bindExchange(destination, source.name, routingKey, a);
        });
        const row = vhostBindingRows(v).find((b) =>
          b.source === source.name && b.destination_type === destType && b.destination === destination &&
          b.routing_key === routingKey && JSON.stringify(b.arguments) === JSON.stringify(body.arguments ?? {})
        );
        const props = row?.properties_key ?? encodeURIComponent(routingKey);
        return c.body(null, 201, { location: `${encodeURIComponent(destination)}/${props}` });
      }],
    });
    api.route(`${base}/:props`, {
      GET: ["management", (c) => {
        const row = between(c, false).rows.find((b) => b.properties_key === param(c, "props"));
        if (!row) throw notFound();
        return api.one(c, row);
      }],
      DELETE: ["management", (c) => {
        const { v, source, destination, rows } = between(c, true);
        const row = rows.find((b) => b.properties_key === param(c, "props"));
        if (!row) throw notFound();
        if (source.name === "") throw notAuthorised("Access refused.");
        api.checkResource(c, v.name, "read", "exchange", source.name);
        api.checkResource(c, v.name, "write", destType, destination);
        const a = jsonToFieldTable(row.arguments);
        const binding = [...source.router.bindings()].find((b) =>
          b.destination.kind === destType && b.destination.name === destination &&
          b.routingKey === row.routing_key &&
          JSON.stringify(fieldTableToJson(b.args)) === JSON.stringify(row.arguments)
        );
        kernel(() => {
          if (kind === "q") {
            v.unbindQueue(destination, HTTP_OWNER, source.name, row.routing_key, binding?.args ?? a);
          } else v.unbindExchange(destination, source.name, row.routing_key, binding?.args ?? a);
        });
        return c.body(null, 204);
      }],
    });
  }
}
