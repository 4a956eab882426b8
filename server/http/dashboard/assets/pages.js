// Pages: overview (totals and live charts), connections, channels, exchanges, queues.

import { request, seg } from "./api.js";
import { lineChart } from "./chart.js";
import { bytes, formValues, h, notice, num, pick, rate, replace, show } from "./dom.js";
import { state } from "./state.js";
import { pagedTable } from "./table.js";

// ------------------------------------------------------------------------------------ overview

/** Samples of /api/overview, kept while the dashboard is open (at most 10 minutes' worth). */
const samples = [];
const MAX_SAMPLES = 120;
let previous = null; // { t, stats } of the last poll, for rates from the counters

const RATE_SERIES = [
  { key: "publish", label: "Publish", color: "#2563eb" },
  { key: "deliver_get", label: "Deliver / get", color: "#16a34a" },
  { key: "ack", label: "Ack", color: "#d97706" },
  { key: "redeliver", label: "Redeliver", color: "#9333ea" },
];
const DEPTH_SERIES = [
  { key: "ready", label: "Ready", color: "#2563eb" },
  { key: "unacked", label: "Unacked", color: "#d97706" },
];

function record(ov) {
  const t = Date.now();
  const stats = ov.message_stats ?? {};
  const values = {
    ready: pick(ov, "queue_totals.messages_ready") ?? 0,
    unacked: pick(ov, "queue_totals.messages_unacknowledged") ?? 0,
  };
  for (const { key } of RATE_SERIES) {
    // Rates from the growth of the broker's counters between two polls: exact over any polling
    // interval. The first sample uses the broker's own 5-second window.
    const count = stats[key];
    if (previous && typeof count === "number" && typeof previous.stats[key] === "number" && t > previous.t) {
      values[key] = Math.max(0, (count - previous.stats[key]) / ((t - previous.t) / 1000));
    } else {
      values[key] = pick(stats, key + "_details.rate") ?? 0;
    }
  }
  previous = { t, stats };
  samples.push({ t, values });
  if (samples.length > MAX_SAMPLES) samples.shift();
}

let latest = null; // the last /api/overview answer

/**
 * Polls /api/overview and records a sample for the charts. The app calls it on every tick,
 * whatever the page, so the charts have a history when the overview is opened.
 */
export async function sampleOverview() {
  latest = await request("GET", "/api/overview");
  record(latest);
  return latest;
}

function card(label, value, role) {
  return h(
    "div",
    { class: "card" },
    h("div", { class: "label" }, label),
    h("div", { class: "value", "data-stat": role }, value),
  );
}

const SPANS = [
  [60_000, "last minute"],
  [5 * 60_000, "last 5 minutes"],
  [10 * 60_000, "last 10 minutes"],
];
let span = Number(sessionStorage.getItem("warren.span")) || 60_000;

export function overviewPage(main) {
  const head = h("div");
  const cards = h("div");
  const charts = h("div", { class: "grid" });
  const listeners = h("div");
  const spanSelect = h(
    "select",
    {
      title: "Time shown in the charts",
      "data-role": "span",
      onchange: () => {
        span = Number(spanSelect.value);
        sessionStorage.setItem("warren.span", String(span));
        drawCharts();
      },
    },
    SPANS.map(([ms, label]) => h("option", { value: String(ms), selected: ms === span }, label)),
  );
  function drawCharts() {
    replace(
      charts,
      h(
        "div",
        { class: "panel" },
        h("h2", null, "Message rates"),
        lineChart(samples, RATE_SERIES, { unit: "/s", span }),
      ),
      h(
        "div",
        { class: "panel" },
        h("h2", null, "Queued messages"),
        lineChart(samples, DEPTH_SERIES, { span }),
      ),
    );
  }
  const tools = h(
    "div",
    { class: "toolbar" },
    h("span", { class: "spacer" }),
    h("span", { class: "muted" }, "Charts:"),
    spanSelect,
  );
  replace(main, head, cards, tools, charts, listeners);
  return {
    async refresh() {
      const ov = latest ?? await sampleOverview();
      const totals = ov.object_totals ?? {};
      const q = ov.queue_totals ?? {};
      replace(
        head,
        h("h1", null, "Overview"),
        h(
          "p",
          { class: "muted" },
          (ov.product_name ?? "Warren") + " " + (ov.product_version ?? "") + " · node " + (ov.node ?? "") +
            " · management API " + (ov.management_version ?? "") + " · refreshed every 5 s",
        ),
      );
      replace(
        cards,
        h(
          "div",
          { class: "cards" },
          card("Connections", num(totals.connections), "connections"),
          card("Channels", num(totals.channels), "channels"),
          card("Exchanges", num(totals.exchanges), "exchanges"),
          card("Queues", num(totals.queues), "queues"),
          card("Consumers", num(totals.consumers), "consumers"),
          card("Ready", num(q.messages_ready), "ready"),
          card("Unacked", num(q.messages_unacknowledged), "unacked"),
          card("Total messages", num(q.messages), "messages"),
        ),
      );
      drawCharts();
      const ls = ov.listeners ?? [];
      replace(
        listeners,
        h(
          "div",
          { class: "panel" },
          h("h2", null, "Listeners"),
          ls.length === 0 ? h("div", { class: "empty" }, "None reported.") : h(
            "table",
            null,
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                h("th", null, "Protocol"),
                h("th", null, "Address"),
                h("th", { class: "num" }, "Port"),
              ),
            ),
            h(
              "tbody",
              null,
              ls.map((l) =>
                h(
                  "tr",
                  null,
                  h("td", null, l.protocol),
                  h("td", null, l.ip_address),
                  h("td", { class: "num" }, show(l.port)),
                )
              ),
            ),
          ),
        ),
      );
    },
  };
}

// ---------------------------------------------------------------------------------- lists

function scoped(kind) {
  return () => "/api/" + kind + (state.vhost ? "/" + seg(state.vhost) : "");
}

function vhostColumn() {
  return state.vhost ? [] : [{ title: "Vhost", value: (r) => r.vhost, sort: "vhost" }];
}

function listPage(main, title, intro, table, extra) {
  replace(
    main,
    h("h1", null, title),
    intro ? h("p", { class: "muted" }, intro) : null,
    h("div", { class: "panel" }, table.el),
    extra,
  );
  return { refresh: table.refresh };
}

export function connectionsPage(main) {
  const status = h("div");
  const table = pagedTable({
    path: () => (state.vhost ? "/api/vhosts/" + seg(state.vhost) + "/connections" : "/api/connections"),
    fields: [
      "name",
      "user",
      "vhost",
      "client_properties",
      "protocol",
      "channels",
      "state",
      "peer_host",
      "peer_port",
      "ssl",
    ],
    empty: "No open connections.",
    columns: [
      { title: "Name", value: (r) => h("span", { class: "mono" }, r.name), sort: "name" },
      ...vhostColumn(),
      { title: "User", value: (r) => r.user, sort: "user" },
      {
        title: "Client",
        value: (r) =>
          [pick(r, "client_properties.product"), pick(r, "client_properties.version")].filter(Boolean).join(
            " ",
          ),
      },
      { title: "Protocol", value: (r) => r.protocol + (r.ssl ? " (TLS)" : "") },
      { title: "Channels", value: (r) => num(r.channels), num: true, sort: "channels" },
      {
        title: "State",
        value: (r) => h("span", { class: "tag " + (r.state === "running" ? "ok" : "warn") }, r.state),
      },
      {
        title: "",
        value: (r) =>
          h("button", {
            class: "small danger",
            "data-action": "close-connection",
            onclick: async () => {
              if (!confirm("Close connection " + r.name + "? Its client gets 320 CONNECTION_FORCED.")) return;
              try {
                await request("DELETE", "/api/connections/" + seg(r.name), undefined, {
                  headers: { "x-reason": "Closed from the Warren dashboard" },
                });
                replace(status, notice("ok", "Connection " + r.name + " closed."));
              } catch (err) {
                replace(status, notice("error", "Could not close " + r.name + ": " + err.message));
              }
              table.refresh();
            },
          }, "Close"),
      },
    ],
  });
  replace(main, h("h1", null, "Connections"), status, h("div", { class: "panel" }, table.el));
  return { refresh: table.refresh };
}

export function channelsPage(main) {
  const table = pagedTable({
    path: () => (state.vhost ? "/api/vhosts/" + seg(state.vhost) + "/channels" : "/api/channels"),
    empty: "No open channels.",
    columns: [
      { title: "Channel", value: (r) => h("span", { class: "mono" }, r.name), sort: "name" },
      ...vhostColumn(),
      { title: "User", value: (r) => r.user, sort: "user" },
      {
        title: "Mode",
        value: (r) => [r.confirm ? "confirm" : "", r.transactional ? "tx" : ""].filter(Boolean).join(", "),
      },
      { title: "Prefetch", value: (r) => num(r.prefetch_count), num: true },
      {
        title: "Unacked",
        value: (r) => num(r.messages_unacknowledged),
        num: true,
        sort: "messages_unacknowledged",
      },
      { title: "Consumers", value: (r) => num(r.consumer_count), num: true, sort: "consumer_count" },
      { title: "Publish", value: (r) => rate(pick(r, "message_stats.publish_details.rate")), num: true },
      {
        title: "State",
        value: (r) => h("span", { class: "tag " + (r.state === "running" ? "ok" : "warn") }, r.state),
      },
    ],
  });
  return listPage(main, "Channels", null, table);
}

function features(r) {
  const out = [];
  if (r.durable) out.push(h("span", { class: "tag", title: "durable" }, "D"));
  if (r.auto_delete) out.push(h("span", { class: "tag", title: "auto-delete" }, "AD"));
  if (r.exclusive) out.push(h("span", { class: "tag", title: "exclusive" }, "Excl"));
  if (r.internal) out.push(h("span", { class: "tag", title: "internal" }, "I"));
  for (const [k, v] of Object.entries(r.arguments ?? {})) {
    out.push(h("span", { class: "tag", title: k + " = " + show(v) }, k.replace(/^x-/, "")));
  }
  if (r.policy) out.push(h("span", { class: "tag warn", title: "policy" }, "policy: " + r.policy));
  return out;
}

export function exchangesPage(main) {
  const table = pagedTable({
    path: scoped("exchanges"),
    fields: [
      "name",
      "vhost",
      "type",
      "durable",
      "auto_delete",
      "internal",
      "arguments",
      "policy",
      "message_stats",
    ],
    empty: "No exchanges.",
    columns: [
      {
        title: "Name",
        value: (r) => (r.name === "" ? h("i", null, "(AMQP default)") : r.name),
        sort: "name",
      },
      ...vhostColumn(),
      { title: "Type", value: (r) => r.type, sort: "type" },
      { title: "Features", value: features },
      { title: "In", value: (r) => rate(pick(r, "message_stats.publish_in_details.rate")), num: true },
      { title: "Out", value: (r) => rate(pick(r, "message_stats.publish_out_details.rate")), num: true },
    ],
  });
  return listPage(main, "Exchanges", null, table);
}

export function queueLink(vhost, name) {
  return h("a", { href: "#/queue/" + seg(vhost) + "/" + seg(name), "data-queue": name }, name);
}

export function queuesPage(main) {
  const table = pagedTable({
    path: scoped("queues"),
    fields: [
      "name",
      "vhost",
      "type",
      "durable",
      "auto_delete",
      "exclusive",
      "arguments",
      "policy",
      "state",
      "messages",
      "messages_ready",
      "messages_unacknowledged",
      "message_bytes",
      "consumers",
      "message_stats.publish_details",
      "message_stats.deliver_get_details",
      "message_stats.ack_details",
    ],
    empty: "No queues.",
    columns: [
      { title: "Name", value: (r) => queueLink(r.vhost, r.name), sort: "name" },
      ...vhostColumn(),
      { title: "Features", value: features },
      {
        title: "State",
        value: (r) => h("span", { class: "tag " + (r.state === "running" ? "ok" : "warn") }, r.state),
      },
      { title: "Ready", value: (r) => num(r.messages_ready), num: true, sort: "messages_ready" },
      {
        title: "Unacked",
        value: (r) => num(r.messages_unacknowledged),
        num: true,
        sort: "messages_unacknowledged",
      },
      {
        title: "Total",
        value: (r) => h("span", { "data-depth": r.name }, num(r.messages)),
        num: true,
        sort: "messages",
      },
      { title: "Bytes", value: (r) => bytes(r.message_bytes), num: true, sort: "message_bytes" },
      { title: "Consumers", value: (r) => num(r.consumers), num: true, sort: "consumers" },
      { title: "Incoming", value: (r) => rate(pick(r, "message_stats.publish_details.rate")), num: true },
      {
        title: "Deliver / get",
        value: (r) => rate(pick(r, "message_stats.deliver_get_details.rate")),
        num: true,
      },
      { title: "Ack", value: (r) => rate(pick(r, "message_stats.ack_details.rate")), num: true },
    ],
  });
  return listPage(main, "Queues", null, table, addQueueForm(table));
}

function addQueueForm(table) {
  const status = h("div");
  const form = h(
    "form",
    {
      class: "stack",
      "data-form": "add-queue",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const v = formValues(form);
        let args = {};
        try {
          args = v.arguments.trim() ? JSON.parse(v.arguments) : {};
        } catch (err) {
          replace(status, notice("error", "Arguments are not valid JSON: " + err.message));
          return;
        }
        try {
          await request("PUT", "/api/queues/" + seg(v.vhost) + "/" + seg(v.name), {
            durable: v.durable === "true",
            auto_delete: false,
            arguments: args,
          });
          replace(status, notice("ok", "Queue " + v.name + " declared in vhost " + v.vhost + "."));
          table.refresh();
        } catch (err) {
          replace(status, notice("error", "Could not declare " + v.name + ": " + err.message));
        }
      },
    },
    h("label", null, "Virtual host"),
    h(
      "select",
      { name: "vhost" },
      state.vhosts.map((v) => h("option", { value: v, selected: v === (state.vhost || "/") }, v)),
    ),
    h("label", null, "Name"),
    h("input", { name: "name", required: true }),
    h("label", null, "Durability"),
    h(
      "select",
      { name: "durable" },
      h("option", { value: "true" }, "Durable"),
      h("option", { value: "false" }, "Transient"),
    ),
    h("label", null, "Arguments (JSON)"),
    h("textarea", {
      name: "arguments",
      placeholder: '{"x-dead-letter-exchange": "dlx", "x-message-ttl": 60000}',
    }),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Add queue")),
  );
  return h("div", { class: "panel" }, h("h2", null, "Add a queue"), status, form);
}
