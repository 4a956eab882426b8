/**
 * `/metrics`: the broker's state in Prometheus' text exposition format (version 0.0.4), with
 * the metric names of RabbitMQ's `rabbitmq_prometheus` plugin where one exists, so existing
 * dashboards and alerts find them. Per-queue metrics carry `vhost` and `queue` labels (RabbitMQ
 * serves those on `/metrics/per-object`; Warren serves everything on `/metrics`).
 *
 * @module
 */

import type { Broker } from "../../core/mod.ts";
import { queueUnacked } from "./format.ts";
import { residentMemory } from "../resources.ts";

/** Escapes a label value (backslash, double quote, newline). */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** The metrics text for a broker. */
export function metricsText(broker: Broker, node: string): string {
  const lines: string[] = [];
  const metric = (name: string, type: "gauge" | "counter", help: string, samples: [string, number][]) => {
    lines.push(`# TYPE ${name} ${type}`, `# HELP ${name} ${help}`);
    for (const [labels, value] of samples) {
      lines.push(`${name}${labels} ${Number.isFinite(value) ? value : 0}`);
    }
  };
  const one = (value: number): [string, number][] => [["", value]];

  let channels = 0;
  for (const c of broker.connections) channels += c.channels.size;
  let queues = 0;
  let exchanges = 0;
  let consumers = 0;
  const q: {
    labels: string;
    ready: number;
    unacked: number;
    consumers: number;
    bytes: number;
    published: number;
    delivered: number;
    acked: number;
  }[] = [];
  for (const v of broker.vhosts.values()) {
    exchanges += v.exchanges.size;
    for (const x of v.queues.values()) {
      queues++;
      consumers += x.consumerCount;
      const s = x.stats;
      q.push({
        labels: `{vhost="${label(v.name)}",queue="${label(x.name)}"}`,
        ready: x.messageCount,
        unacked: queueUnacked(x),
        consumers: x.consumerCount,
        bytes: x.messageBytes,
        published: s.publish,
        delivered: s.deliver + s.deliverNoAck + s.get + s.getNoAck,
        acked: s.ack,
      });
    }
  }
  const s = broker.stats;

  metric("rabbitmq_identity_info", "gauge", "RabbitMQ node & cluster identity info", [
    [`{rabbitmq_node="${label(node)}",rabbitmq_cluster="${label(node)}"}`, 1],
  ]);
  metric("rabbitmq_build_info", "gauge", "RabbitMQ & Erlang/OTP version info", [
    [`{product="Warren",rabbitmq_version="3.10.8"}`, 1],
  ]);
  metric("rabbitmq_connections", "gauge", "Connections currently open", one(broker.connections.size));
  metric("rabbitmq_channels", "gauge", "Channels currently open", one(channels));
  metric("rabbitmq_consumers", "gauge", "Consumers currently connected", one(consumers));
  metric("rabbitmq_queues", "gauge", "Queues available", one(queues));
  metric("rabbitmq_exchanges", "gauge", "Exchanges available", one(exchanges));
  metric("rabbitmq_vhosts", "gauge", "Virtual hosts", one(broker.vhosts.size));
  metric("rabbitmq_users", "gauge", "Users", one(broker.users.names().length));

  metric(
    "rabbitmq_global_messages_received_total",
    "counter",
    "Total number of messages received from publishers",
    one(s.publish),
  );
  metric(
    "rabbitmq_global_messages_delivered_total",
    "counter",
    "Total number of messages delivered to consumers",
    one(s.deliver + s.deliverNoAck + s.get + s.getNoAck),
  );
  metric(
    "rabbitmq_global_messages_delivered_consume_manual_ack_total",
    "counter",
    "Total number of messages delivered to consumers using basic.consume with manual acknowledgment",
    one(s.deliver),
  );
  metric(
    "rabbitmq_global_messages_delivered_consume_auto_ack_total",
    "counter",
    "Total number of messages delivered to consumers using basic.consume with automatic acknowledgment",
    one(s.deliverNoAck),
  );
  metric(
    "rabbitmq_global_messages_delivered_get_manual_ack_total",
    "counter",
    "Total number of messages delivered to consumers using basic.get with manual acknowledgment",
    one(s.get),
  );
  metric(
    "rabbitmq_global_messages_delivered_get_auto_ack_total",
    "counter",
    "Total number of messages delivered to consumers using basic.get with automatic acknowledgment",
    one(s.getNoAck),
  );
  metric(
    "rabbitmq_global_messages_get_empty_total",
    "counter",
    "Total number of times basic.get operations fetched no message",
    one(s.getEmpty),
  );
  metric(
    "rabbitmq_global_messages_redelivered_total",
    "counter",
    "Total number of messages redelivered to consumers",
    one(s.redeliver),
  );
  metric(
    "rabbitmq_global_messages_acknowledged_total",
    "counter",
    "Total number of messages acknowledged by consumers",
    one(s.ack),
  );
  metric(
    "rabbitmq_global_messages_confirmed_total",
    "counter",
    "Total number of messages confirmed to publishers",
    one(s.confirm),
  );
  metric(
    "rabbitmq_global_messages_unroutable_returned_total",
    "counter",
    "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable",
    one(s.returnUnroutable),
  );
  metric(
    "rabbitmq_global_messages_unroutable_dropped_total",
    "counter",
    "Total number of messages published as non-mandatory into an exchange and dropped as unroutable",
    one(s.dropUnroutable),
  );

  metric(
    "rabbitmq_queue_messages",
    "gauge",
    "Sum of ready and unacknowledged messages - total queue depth",
    q.map((x) => [x.labels, x.ready + x.unacked]),
  );
  metric(
    "rabbitmq_queue_messages_ready",
    "gauge",
    "Messages ready to be delivered to consumers",
    q.map((x) => [x.labels, x.ready]),
  );
  metric(
    "rabbitmq_queue_messages_unacked",
    "gauge",
    "Messages delivered to consumers but not yet acknowledged",
    q.map((x) => [x.labels, x.unacked]),
  );
  metric(
    "rabbitmq_queue_messages_ready_bytes",
    "gauge",
    "Size in bytes of ready messages",
    q.map((x) => [x.labels, x.bytes]),
  );
  metric("rabbitmq_queue_consumers", "gauge", "Consumers on a queue", q.map((x) => [x.labels, x.consumers]));
  metric(
    "rabbitmq_queue_messages_published_total",
    "counter",
    "Total number of messages published to queues",
    q.map((x) => [x.labels, x.published]),
  );
  metric(
    "rabbitmq_queue_messages_delivered_total",
    "counter",
    "Total number of messages delivered from queues to consumers",
    q.map((x) => [x.labels, x.delivered]),
  );
  metric(
    "rabbitmq_queue_messages_acked_total",
    "counter",
    "Total number of messages acknowledged by consumers on a queue",
    q.map((x) => [x.labels, x.acked]),
  );

  // Plugins: messages held by delayed-delivery exchanges, per vhost.
  metric(
    "warren_delayed_messages",
    "gauge",
    "Messages held by x-delayed-message exchanges until they are due",
    [...broker.vhosts.values()].map((v) => [`{vhost="${label(v.name)}"}`, v.delayedCount]),
  );

  metric("rabbitmq_process_resident_memory_bytes", "gauge", "Memory used in bytes", one(residentMemory()));
  metric(
    "rabbitmq_alarms_memory_used_watermark",
    "gauge",
    "Is the memory alarm in effect (1) or not (0)",
    one(0),
  );
  metric(
    "rabbitmq_alarms_free_disk_space_watermark",
    "gauge",
    "Is the free disk space alarm in effect (1) or not (0)",
    one(0),
  );
  return lines.join("\n") + "\n";
}
