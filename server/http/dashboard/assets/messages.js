// How a message from /api/queues/:vhost/:name/get is shown: its properties, headers, the x-death
// history as a table, and the payload as text.

import { h, kvTable, num, show, when } from "./dom.js";

/** The x-death entries of a got message (newest first, as the broker keeps them), or []. */
export function xDeath(m) {
  const d = m?.properties?.headers?.["x-death"];
  return Array.isArray(d) ? d.filter((e) => e && typeof e === "object") : [];
}

/** The x-death history as a table. */
export function xDeathTable(deaths) {
  return h(
    "table",
    { class: "xdeath", "data-role": "x-death" },
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ["Queue", "Reason", "Count", "Exchange", "Routing keys", "Time", "Original expiration"].map((t) =>
          h("th", null, t)
        ),
      ),
    ),
    h(
      "tbody",
      null,
      deaths.map((d) =>
        h(
          "tr",
          null,
          h("td", null, show(d.queue)),
          h("td", null, show(d.reason)),
          h("td", { class: "num" }, num(d.count)),
          h("td", null, d.exchange === "" ? h("i", null, "(AMQP default)") : show(d.exchange)),
          h(
            "td",
            null,
            Array.isArray(d["routing-keys"]) ? d["routing-keys"].join(", ") : show(d["routing-keys"]),
          ),
          h("td", null, when(d.time)),
          h("td", null, show(d["original-expiration"])),
        )
      ),
    ),
  );
}

/**
 * One message.
 * @param m a message of a get answer
 * @param index its position in the answer (0 = head of the queue)
 * @param actions extra nodes for the message's header line (buttons)
 */
export function messageView(m, index, actions) {
  const props = Array.isArray(m.properties) ? {} : { ...m.properties };
  const headers = { ...(props.headers ?? {}) };
  delete props.headers;
  const deaths = xDeath(m);
  delete headers["x-death"];
  return h(
    "div",
    { class: "message", "data-message": String(index) },
    h(
      "div",
      { class: "head" },
      h("b", null, "Message " + (index + 1)),
      h("span", { class: "muted" }, "exchange "),
      m.exchange === "" ? h("i", null, "(AMQP default)") : h("span", { class: "mono" }, m.exchange),
      h("span", { class: "muted" }, "routing key "),
      h("span", { class: "mono" }, m.routing_key),
      m.redelivered ? h("span", { class: "tag warn" }, "redelivered") : null,
      h("span", { class: "muted" }, num(m.payload_bytes) + " bytes, " + m.payload_encoding),
      h("span", { class: "grow" }),
      actions,
    ),
    deaths.length ? [h("h3", null, "x-death (" + deaths.length + ")"), xDeathTable(deaths)] : null,
    h(
      "div",
      { class: "cols" },
      h("div", null, h("h3", null, "Properties"), kvTable(props)),
      h("div", null, h("h3", null, "Headers"), kvTable(headers)),
    ),
    h("h3", null, "Payload"),
    h("pre", { class: "payload", "data-role": "payload" }, m.payload),
  );
}
