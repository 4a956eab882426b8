/**
 * `/api/connections…`, `/api/channels…` and `/api/consumers…`.
 *
 * Monitors and administrators see every connection; other management users see their own.
 *
 * @module
 */

import type { Channel, Connection, Consumer } from "../../../core/mod.ts";
import { type Api, type Ctx, param } from "../api.ts";
import { channelName, formatChannel, formatConnection, formatConsumer } from "../format.ts";
import { notAuthorised, notFound } from "../_util.ts";

/** Adds the routes of this file. */
export function connectionRoutes(api: Api): void {
  const broker = api.broker;

  const visible = (c: Ctx, vhost?: string): Connection[] => {
    const user = c.get("user");
    const all = [...broker.connections].filter((x) => x.state !== "closed");
    return all.filter((x) =>
      (api.isMonitor(user) || x.user?.name === user.name) && (vhost === undefined || x.vhost?.name === vhost)
    );
  };
  const find = (c: Ctx, name: string): Connection => {
    const conn = [...broker.connections].find((x) => x.name === name);
    if (!conn) throw notFound();
    const user = c.get("user");
    if (!api.isMonitor(user) && conn.user?.name !== user.name) throw notAuthorised("Access refused.");
    return conn;
  };
  const connList = {
    nameOf: (x: Connection) => x.name,
    format: (x: Connection) => formatConnection(x, api.fmt(), api.options.amqp),
  };
  const channelsOf = (conns: Connection[]) =>
    conns.flatMap((x) => [...x.channels.values()].map((ch) => [x, ch] as const));
  const channelList = {
    nameOf: ([x, ch]: readonly [Connection, Channel]) => channelName(x, ch),
    format: ([x, ch]: readonly [Connection, Channel]) => formatChannel(x, ch, api.fmt()),
  };
  const consumersOf = (conns: Connection[]) =>
    channelsOf(conns).flatMap(([x, ch]) => [...ch.consumers.values()].map((k) => [x, ch, k] as const));
  const consumerList = {
    defaultSort: ["queue.vhost", "queue.name", "consumer_tag"],
    format: ([x, ch, k]: readonly [Connection, Channel, Consumer]) => formatConsumer(x, ch, k, api.fmt()),
  };

  api.route("/api/connections", { GET: ["management", (c) => api.list(c, visible(c), connList)] });
  api.route("/api/vhosts/:vhost/connections", {
    GET: ["management", (c) => {
      const v = api.vhost(c, param(c, "vhost"));
      return api.list(c, visible(c, v.name), connList);
    }],
  });
  api.route("/api/connections/:name", {
    GET: [
      "management",
      (c) => api.one(c, formatConnection(find(c, param(c, "name")), api.fmt(), api.options.amqp)),
    ],
    DELETE: ["management", (c) => {
      const conn = find(c, param(c, "name"));
      // As RabbitMQ: 320 CONNECTION_FORCED, with the X-Reason header as the text when given.
      conn.forceClose(c.req.header("x-reason") ?? "Closed via management plugin");
      return c.body(null, 204);
    }],
  });
  api.route("/api/connections/:name/channels", {
    GET: ["management", (c) => api.list(c, channelsOf([find(c, param(c, "name"))]), channelList)],
  });

  api.route("/api/channels", {
    GET: ["management", (c) => api.list(c, channelsOf(visible(c)), channelList)],
  });
  api.route("/api/vhosts/:vhost/channels", {
    GET: ["management", (c) => {
      const v = api.vhost(c, param(c, "vhost"));
      return api.list(c, channelsOf(visible(c, v.name)), channelList);
    }],
  });
  api.route("/api/channels/:name", {
    GET: ["management", (c) => {
      const name = param(c, "name");
      const found = channelsOf(visible(c)).find(([x, ch]) => channelName(x, ch) === name);
      if (!found) throw notFound();
      const row = formatChannel(found[0], found[1], api.fmt());
      row.consumer_details = [...found[1].consumers.values()].map((k) =>
        formatConsumer(found[0], found[1], k, api.fmt())
      );
      return api.one(c, row);
    }],
  });

  api.route("/api/consumers", {
    GET: ["management", (c) => api.list(c, consumersOf(visible(c)), consumerList)],
  });
  api.route("/api/consumers/:vhost", {
    GET: ["management", (c) => {
      const v = api.vhost(c, param(c, "vhost"));
      return api.list(c, consumersOf(visible(c)).filter(([, , k]) => k.queue.vhost === v.name), consumerList);
    }],
  });
}
