// /metrics over HTTP, parsed by a strict Prometheus text-format (0.0.4) parser, against what
// AMQP clients did.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { httpTest, until } from "./_http.ts";

interface Family {
  type: string;
  help: string;
  samples: { labels: Record<string, string>; value: number }[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses the Prometheus text format strictly: every sample under its own TYPE and HELP, once. */
function parsePrometheus(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "ends with a newline");
  const families = new Map<string, Family>();
  let current: string | null = null;
  for (const [i, line] of text.slice(0, -1).split("\n").entries()) {
    const where = `line ${i + 1}: ${line}`;
    if (line.startsWith("# TYPE ")) {
      const [name, type, ...rest] = line.slice(7).split(" ");
      assert.match(name, NAME, where);
      assert.ok(
        ["counter", "gauge", "histogram", "summary", "untyped"].includes(type) && rest.length === 0,
        where,
      );
      assert.ok(!families.has(name), `${where}: family declared twice`);
      families.set(name, { type, help: "", samples: [] });
      current = name;
      continue;
    }
    if (line.startsWith("# HELP ")) {
      const name = line.slice(7).split(" ")[0];
      assert.equal(name, current, `${where}: HELP for another family`);
      families.get(name)!.help = line.slice(8 + name.length);
      continue;
    }
    assert.ok(!line.startsWith("#") && line !== "", `${where}: unexpected`);
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/);
    assert.ok(m, `${where}: not a sample`);
    const [, name, , labelText, valueText] = m;
    assert.equal(name, current, `${where}: sample outside its family`);
    const labels: Record<string, string> = {};
    if (labelText !== undefined && labelText !== "") {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/gy;
      let at = 0;
      while (at < labelText.length) {
        re.lastIndex = at;
        const l = re.exec(labelText);
        assert.ok(l, `${where}: bad labels`);
        assert.match(l[1], LABEL_NAME);
        assert.ok(!(l[1] in labels), `${where}: label repeated`);
        labels[l[1]] = l[2].replace(/\\(["\\n])/g, (_, c) => (c === "n" ? "\n" : c));
        at = re.lastIndex;
      }
    }
    const value = Number(valueText);
    assert.ok(!Number.isNaN(value) || valueText === "NaN", `${where}: bad value`);
    families.get(name)!.samples.push({ labels, value });
  }
  return families;
}

function sample(
  f: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return f.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

httpTest("metrics: Prometheus text with RabbitMQ's names, following AMQP activity", async (b) => {
  const conn = await b.amqp();
  const ch = await conn.createChannel();
  await ch.assertQueue("work", { durable: false });
  await ch.assertQueue('odd "name"\\x', { durable: false });
  for (let i = 0; i < 5; i++) ch.sendToQueue("work", Buffer.from(`m${i}`));
  ch.publish("amq.direct", "nowhere", Buffer.from("lost"));
  await until(async () => (await ch.checkQueue("work")).messageCount === 5);
  await ch.prefetch(2);
  await ch.consume("work", () => {});
  await until(async () =>
    ((await b.req("GET", "/api/queues/%2F/work")).json as { messages_unacknowledged: number })
      .messages_unacknowledged === 2
  );

  // No login needed, as RabbitMQ's Prometheus endpoint.
  const res = await fetch(`${b.base}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const f = parsePrometheus(await res.text());

  assert.equal(sample(f, "rabbitmq_connections"), 1);
  assert.equal(sample(f, "rabbitmq_channels"), 1);
  assert.equal(sample(f, "rabbitmq_consumers"), 1);
  assert.equal(sample(f, "rabbitmq_queues"), 2);
  assert.equal(f.get("rabbitmq_queue_messages")!.type, "gauge");
  assert.equal(sample(f, "rabbitmq_queue_messages", { vhost: "/", queue: "work" }), 5);
  assert.equal(sample(f, "rabbitmq_queue_messages_ready", { vhost: "/", queue: "work" }), 3);
  assert.equal(sample(f, "rabbitmq_queue_messages_unacked", { vhost: "/", queue: "work" }), 2);
  assert.equal(sample(f, "rabbitmq_queue_consumers", { vhost: "/", queue: "work" }), 1);
  assert.equal(sample(f, "rabbitmq_queue_messages", { vhost: "/", queue: 'odd "name"\\x' }), 0);
  assert.equal(f.get("rabbitmq_global_messages_received_total")!.type, "counter");
  assert.equal(sample(f, "rabbitmq_global_messages_received_total"), 6);
  assert.equal(sample(f, "rabbitmq_global_messages_unroutable_dropped_total"), 1);
  assert.equal(sample(f, "rabbitmq_global_messages_delivered_consume_manual_ack_total"), 2);
  assert.equal(sample(f, "rabbitmq_queue_messages_published_total", { vhost: "/", queue: "work" }), 5);
  assert.ok(sample(f, "rabbitmq_process_resident_memory_bytes")! > 1_000_000);
  assert.equal(sample(f, "rabbitmq_alarms_memory_used_watermark"), 0);
  assert.ok(f.get("rabbitmq_connections")!.help.length > 0);
});
