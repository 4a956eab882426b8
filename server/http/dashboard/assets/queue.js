// The queue page: details, bindings, and the actions RabbitMQ's queue page has: publish a message
// (through the default exchange, routed to this queue), get messages, purge, delete.

import { request, seg } from "./api.js";
import { bytes, formValues, h, kvTable, notice, num, pick, rate, replace, show } from "./dom.js";
import { messageView, xDeath } from "./messages.js";

function queuePath(vhost, name) {
  return "/api/queues/" + seg(vhost) + "/" + seg(name);
}

function parseJsonObject(text, what) {
  if (!text.trim()) return {};
  let v;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(what + " is not valid JSON: " + err.message);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new Error(what + " must be a JSON object");
  }
  return v;
}

export function queuePage(main, args) {
  const [vhost, name] = args;
  const path = queuePath(vhost, name);
  const details = h("div");
  const bindings = h("div");
  replace(
    main,
    h("div", { class: "crumbs" }, h("a", { href: "#/queues" }, "Queues"), " / vhost " + vhost),
    h("h1", null, "Queue ", h("span", { class: "mono", "data-role": "queue-name" }, name)),
    details,
    h("div", { class: "grid" }, publishPanel(vhost, name), getPanel(vhost, name)),
    bindings,
    dangerPanel(vhost, name),
  );
  return {
    async refresh() {
      let q;
      try {
        q = await request("GET", path);
      } catch (err) {
        replace(
          details,
          notice(
            "error",
            err.status === 404 ? "There is no queue " + name + " in vhost " + vhost + "." : err.message,
          ),
        );
        return;
      }
      const stats = q.message_stats ?? {};
      replace(
        details,
        h(
          "div",
          { class: "cards" },
          ...[
            ["Ready", num(q.messages_ready), "ready"],
            ["Unacked", num(q.messages_unacknowledged), "unacked"],
            ["Total", num(q.messages), "messages"],
            ["Consumers", num(q.consumers), "consumers"],
            ["Bytes", bytes(q.message_bytes), "bytes"],
            ["Incoming", rate(pick(stats, "publish_details.rate")), "incoming"],
            ["Deliver / get", rate(pick(stats, "deliver_get_details.rate")), "deliver"],
            ["Ack", rate(pick(stats, "ack_details.rate")), "ack"],
          ].map(([label, value, role]) =>
            h(
              "div",
              { class: "card" },
              h("div", { class: "label" }, label),
              h("div", { class: "value", "data-stat": role }, value),
            )
          ),
        ),
        h(
          "div",
          { class: "panel" },
          h("h2", null, "Details"),
          kvTable({
            type: q.type,
            state: q.state,
            durable: q.durable,
            auto_delete: q.auto_delete,
            exclusive: q.exclusive,
            policy: q.policy ?? "",
            "effective policy": q.effective_policy_definition ?? {},
          }),
          h("h3", null, "Arguments"),
          kvTable(q.arguments),
        ),
      );
      try {
        const bs = await request("GET", path + "/bindings");
        replace(
          bindings,
          h(
            "div",
            { class: "panel" },
            h("h2", null, "Bindings"),
            h(
              "table",
              null,
              h(
                "thead",
                null,
                h(
                  "tr",
                  null,
                  h("th", null, "From exchange"),
                  h("th", null, "Routing key"),
                  h("th", null, "Arguments"),
                ),
              ),
              h(
                "tbody",
                null,
                bs.map((b) =>
                  h(
                    "tr",
                    null,
                    h("td", null, b.source === "" ? h("i", null, "(AMQP default)") : b.source),
                    h("td", { class: "mono" }, b.routing_key),
                    h("td", { class: "mono" }, show(b.arguments)),
                  )
                ),
              ),
            ),
          ),
        );
      } catch (err) {
        replace(bindings, notice("error", "Could not load the bindings: " + err.message));
      }
    },
  };
}

function publishPanel(vhost, name) {
  const status = h("div", { "data-role": "publish-status" });
  const form = h(
    "form",
    {
      class: "stack",
      "data-form": "publish",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const v = formValues(form);
        let properties;
        try {
          properties = parseJsonObject(v.properties, "Properties");
          const headers = parseJsonObject(v.headers, "Headers");
          if (Object.keys(headers).length) properties.headers = headers;
        } catch (err) {
          replace(status, notice("error", err.message));
          return;
        }
        properties.delivery_mode = Number(v.delivery_mode);
        try {
          const res = await request("POST", "/api/exchanges/" + seg(vhost) + "/amq.default/publish", {
            properties,
            routing_key: name,
            payload: v.payload,
            payload_encoding: v.payload_encoding,
          });
          replace(
            status,
            res?.routed ? notice("ok", "Message published to " + name + ".") : notice(
              "error",
              "Message published but not routed: the queue " + name + " does not exist any more.",
            ),
          );
        } catch (err) {
          replace(status, notice("error", "Could not publish: " + err.message));
        }
      },
    },
    h("label", null, "Delivery mode"),
    h(
      "select",
      { name: "delivery_mode" },
      h("option", { value: "1" }, "1 - transient"),
      h("option", { value: "2" }, "2 - persistent"),
    ),
    h("label", null, "Headers (JSON)"),
    h("textarea", { name: "headers", rows: 2, placeholder: '{"x-trace": "abc"}' }),
    h("label", null, "Properties (JSON)"),
    h("textarea", {
      name: "properties",
      rows: 2,
      placeholder: '{"content_type": "application/json", "message_id": "42"}',
    }),
    h("label", null, "Payload"),
    h("textarea", { name: "payload", rows: 4 }),
    h("label", null, "Payload encoding"),
    h(
      "select",
      { name: "payload_encoding" },
      h("option", { value: "string" }, "String"),
      h("option", { value: "base64" }, "Base64"),
    ),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Publish message")),
  );
  return h(
    "div",
    { class: "panel" },
    h("h2", null, "Publish message"),
    h(
      "p",
      { class: "muted" },
      "Sent through the default exchange with routing key ",
      h("span", { class: "mono" }, name),
      ".",
    ),
    status,
    form,
  );
}

function getPanel(vhost, name) {
  const status = h("div", { "data-role": "get-status" });
  const results = h("div", { "data-role": "get-results" });
  const form = h(
    "form",
    {
      class: "stack",
      "data-form": "get",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const v = formValues(form);
        replace(results);
        try {
          const msgs = await request("POST", queuePath(vhost, name) + "/get", {
            count: Number(v.count),
            ackmode: v.ackmode,
            encoding: v.encoding,
            truncate: v.truncate ? Number(v.truncate) : undefined,
          });
          const what = v.ackmode === "ack_requeue_true" || v.ackmode === "reject_requeue_true"
            ? "put back in the queue (marked redelivered)"
            : v.ackmode === "reject_requeue_false"
            ? "rejected (dead-lettered if the queue has a dead-letter exchange)"
            : "removed from the queue";
          replace(
            status,
            msgs.length === 0 ? notice("info", "The queue is empty.") : notice(
              "ok",
              "Got " + msgs.length + " message" + (msgs.length === 1 ? "" : "s") + ", " + what + ".",
            ),
          );
          replace(
            results,
            msgs.map((m, i) =>
              messageView(
                m,
                i,
                xDeath(m).length
                  ? h(
                    "a",
                    { href: "#/dead-letters/" + seg(vhost) + "/" + seg(name) },
                    "Dead-lettered: open in Dead letters",
                  )
                  : null,
              )
            ),
          );
        } catch (err) {
          replace(status, notice("error", "Could not get messages: " + err.message));
        }
      },
    },
    h("label", null, "Ack mode"),
    h(
      "select",
      { name: "ackmode" },
      h("option", { value: "ack_requeue_true" }, "Nack message, requeue (look only)"),
      h("option", { value: "ack_requeue_false" }, "Ack message (remove it)"),
      h("option", { value: "reject_requeue_true" }, "Reject, requeue"),
      h("option", { value: "reject_requeue_false" }, "Reject, no requeue (dead-letter)"),
    ),
    h("label", null, "Encoding"),
    h(
      "select",
      { name: "encoding" },
      h("option", { value: "auto" }, "Auto: string if valid UTF-8, else base64"),
      h("option", { value: "base64" }, "Base64"),
    ),
    h("label", null, "Messages"),
    h("input", { name: "count", type: "number", min: 1, max: 500, value: "1" }),
    h("label", null, "Truncate at (bytes)"),
    h("input", { name: "truncate", type: "number", min: 1, value: "50000" }),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Get messages")),
  );
  return h("div", { class: "panel" }, h("h2", null, "Get messages"), status, form, results);
}

function dangerPanel(vhost, name) {
  const status = h("div", { "data-role": "danger-status" });
  return h(
    "div",
    { class: "panel" },
    h("h2", null, "Purge or delete"),
    status,
    h(
      "div",
      { class: "toolbar" },
      h("button", {
        class: "danger",
        "data-action": "purge",
        onclick: async () => {
          if (!confirm("Purge queue " + name + "? Its ready messages are deleted.")) return;
          try {
            await request("DELETE", queuePath(vhost, name) + "/contents");
            replace(status, notice("ok", "Queue " + name + " purged."));
          } catch (err) {
            replace(status, notice("error", "Could not purge: " + err.message));
          }
        },
      }, "Purge messages"),
      h("button", {
        class: "danger",
        "data-action": "delete-queue",
        onclick: async () => {
          if (!confirm("Delete queue " + name + " and all its messages?")) return;
          try {
            await request("DELETE", queuePath(vhost, name));
            location.hash = "#/queues";
          } catch (err) {
            replace(status, notice("error", "Could not delete: " + err.message));
          }
        },
      }, "Delete queue"),
    ),
  );
}
