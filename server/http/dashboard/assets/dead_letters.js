// Dead letters: finds the queues that receive dead-lettered messages, shows their messages with
// the x-death history, and moves a message back to the queue it died in.
//
// Inspecting is a get with ackmode ack_requeue_true: the messages go straight back, in order,
// marked redelivered. Moving one back takes it for good (get with ack_requeue_false) and
// publishes it, headers and all, through the default exchange to the queue named in
// x-death[0].queue. The management API can only take messages from the head of a queue, so to
// move the k-th message the k messages ahead of it are taken too and published again at the end
// of the dead-letter queue; the page says so. Nothing taken is ever dropped: a message that
// cannot go where it should goes back to the dead-letter queue, and if even that fails its
// content is shown on the page.

import { request, seg } from "./api.js";
import { h, notice, num, replace } from "./dom.js";
import { messageView, xDeath } from "./messages.js";
import { queueLink } from "./pages.js";
import { state } from "./state.js";

function getPath(vhost, queue) {
  return "/api/queues/" + seg(vhost) + "/" + seg(queue) + "/get";
}

/** Publishes a got message to `queue` through the default exchange; true if a queue took it. */
async function publishTo(vhost, queue, m) {
  const res = await request("POST", "/api/exchanges/" + seg(vhost) + "/amq.default/publish", {
    properties: Array.isArray(m.properties) ? {} : m.properties,
    routing_key: queue,
    payload: m.payload,
    payload_encoding: m.payload_encoding,
  });
  return res?.routed === true;
}

function fingerprint(m) {
  return JSON.stringify([
    m.exchange,
    m.routing_key,
    m.payload_bytes,
    m.payload_encoding,
    m.payload,
    m.properties,
  ]);
}

function q(name) {
  return "'" + name + "'";
}

export function deadLettersPage(main, args) {
  if (args.length >= 2) inspectPage(main, args[0], args[1]);
  else findPage(main);
  return null; // not polled: looking at a queue's messages marks them redelivered
}

// ------------------------------------------------------------------ which queues hold dead letters

async function findPage(main) {
  const list = h("div", null, h("div", { class: "empty" }, "Looking for dead-letter queues…"));
  const vhostSelect = h(
    "select",
    { name: "vhost" },
    state.vhosts.map((v) => h("option", { value: v, selected: v === (state.vhost || "/") }, v)),
  );
  const nameInput = h("input", { name: "queue", placeholder: "Queue name", required: true });
  const form = h(
    "form",
    {
      class: "toolbar",
      onsubmit: (ev) => {
        ev.preventDefault();
        location.hash = "#/dead-letters/" + seg(vhostSelect.value) + "/" + seg(nameInput.value);
      },
    },
    vhostSelect,
    nameInput,
    h("button", { type: "submit" }, "Inspect"),
  );
  replace(
    main,
    h("h1", null, "Dead letters"),
    h(
      "p",
      { class: "muted" },
      "Queues that receive dead-lettered messages: those bound to a queue's dead-letter exchange (x-dead-letter-exchange or a policy's dead-letter-exchange). Open one to see its messages with their x-death history and move them back.",
    ),
    h("div", { class: "panel" }, list),
    h("div", { class: "panel" }, h("h2", null, "Inspect another queue"), form),
  );
  const scope = state.vhost ? "/" + seg(state.vhost) : "";
  let queues, bindings;
  try {
    [queues, bindings] = await Promise.all([
      request(
        "GET",
        "/api/queues" + scope + "?columns=name,vhost,arguments,effective_policy_definition,messages",
      ),
      request("GET", "/api/bindings" + scope),
    ]);
  } catch (err) {
    replace(list, notice("error", "Could not list queues: " + err.message));
    return;
  }
  const depth = new Map(queues.map((x) => [x.vhost + "\n" + x.name, x.messages]));
  const found = new Map(); // "vhost\nqueue" -> { vhost, name, from: Set, via: Set }
  const add = (vhost, name, from, via) => {
    const key = vhost + "\n" + name;
    if (!depth.has(key)) return;
    const e = found.get(key) ?? { vhost, name, from: new Set(), via: new Set() };
    e.from.add(from);
    e.via.add(via === "" ? "(AMQP default)" : via);
    found.set(key, e);
  };
  for (const x of queues) {
    const pol = x.effective_policy_definition ?? {};
    const dlx = x.arguments?.["x-dead-letter-exchange"] ?? pol["dead-letter-exchange"];
    if (typeof dlx !== "string") continue;
    const dlrk = x.arguments?.["x-dead-letter-routing-key"] ?? pol["dead-letter-routing-key"];
    if (dlx === "") {
      add(x.vhost, typeof dlrk === "string" ? dlrk : x.name, x.name, dlx);
      continue;
    }
    for (const b of bindings) {
      if (b.vhost === x.vhost && b.source === dlx && b.destination_type === "queue") {
        add(x.vhost, b.destination, x.name, dlx);
      }
    }
  }
  const rows = [...found.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  if (rows.length === 0) {
    replace(
      list,
      h("div", { class: "empty" }, "No queue has a dead-letter exchange with a queue bound to it."),
    );
    return;
  }
  replace(
    list,
    h(
      "table",
      null,
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", null, "Dead-letter queue"),
          h("th", null, "Vhost"),
          h("th", null, "Dead letters from"),
          h("th", null, "Via exchange"),
          h("th", { class: "num" }, "Messages"),
          h("th", null, ""),
        ),
      ),
      h(
        "tbody",
        null,
        rows.map((r) =>
          h(
            "tr",
            null,
            h("td", null, queueLink(r.vhost, r.name)),
            h("td", null, r.vhost),
            h("td", null, [...r.from].join(", ")),
            h("td", null, [...r.via].join(", ")),
            h("td", { class: "num" }, num(depth.get(r.vhost + "\n" + r.name))),
            h(
              "td",
              null,
              h(
                "a",
                { href: "#/dead-letters/" + seg(r.vhost) + "/" + seg(r.name), "data-inspect": r.name },
                "Inspect",
              ),
            ),
          )
        ),
      ),
    ),
  );
}

// ------------------------------------------------------------------ one dead-letter queue

function inspectPage(main, vhost, dlq) {
  const status = h("div", { "data-role": "dl-status" });
  const results = h("div", { "data-role": "dl-messages" });
  const countSelect = h(
    "select",
    { title: "How many messages to look at" },
    [10, 20, 50, 100, 200].map((n) => h("option", { value: String(n), selected: n === 20 }, "first " + n)),
  );
  let shown = []; // the messages on the page, head of the queue first

  async function inspect() {
    try {
      shown = await request("POST", getPath(vhost, dlq), {
        count: Number(countSelect.value),
        ackmode: "ack_requeue_true",
        encoding: "auto",
      });
    } catch (err) {
      shown = [];
      replace(results, notice("error", "Could not read " + q(dlq) + ": " + err.message));
      return;
    }
    if (shown.length === 0) {
      replace(results, h("div", { class: "empty" }, "The queue " + q(dlq) + " is empty."));
      return;
    }
    const dead = shown.filter((m) => xDeath(m).length > 0).length;
    replace(
      results,
      h(
        "div",
        { class: "toolbar" },
        h(
          "span",
          null,
          shown.length + " message" + (shown.length === 1 ? "" : "s") + " shown, " + dead + " with x-death.",
        ),
        h("span", { class: "spacer" }),
        h(
          "button",
          { "data-action": "move-all", onclick: moveAll, disabled: dead === 0 },
          "Move all shown back",
        ),
      ),
      shown.map((m, i) => {
        const target = xDeath(m)[0]?.queue;
        return messageView(
          m,
          i,
          typeof target === "string"
            ? h(
              "button",
              { class: "primary small", "data-action": "move-back", onclick: () => moveOne(i) },
              "Move back to " + target,
            )
            : h("span", { class: "tag" }, "no x-death: not dead-lettered"),
        );
      }),
    );
  }

  /** Shows what happened, and messages that could be published nowhere (so nothing is lost). */
  function report(kind, text, lost) {
    replace(
      status,
      notice(kind, text),
      lost.length
        ? notice(
          "error",
          h(
            "b",
            null,
            lost.length + " message(s) were taken from " + q(dlq) +
              " but could not be published again. Their content:",
          ),
          lost.map((m, i) => messageView(m, i, null)),
        )
        : null,
    );
  }

  async function putBack(m, lost) {
    try {
      if (await publishTo(vhost, dlq, m)) return true;
    } catch {
      // reported below with the message's content
    }
    lost.push(m);
    return false;
  }

  async function moveOne(k) {
    const expected = fingerprint(shown[k]);
    const target = xDeath(shown[k])[0]?.queue;
    let taken;
    try {
      taken = await request("POST", getPath(vhost, dlq), {
        count: k + 1,
        ackmode: "ack_requeue_false",
        encoding: "auto",
      });
    } catch (err) {
      replace(
        status,
        notice("error", "Nothing was moved: could not take the message from " + q(dlq) + ": " + err.message),
      );
      return;
    }
    let t = taken.length > k && fingerprint(taken[k]) === expected
      ? k
      : taken.findIndex((m) => fingerprint(m) === expected);
    const lost = [];
    let rotated = 0;
    let outcome = null;
    for (let i = 0; i < taken.length; i++) {
      const m = taken[i];
      if (i === t) {
        let routed = false;
        let why = "";
        try {
          routed = await publishTo(vhost, target, m);
          if (!routed) why = "the queue " + q(target) + " does not exist in vhost " + q(vhost);
        } catch (err) {
          why = err.message;
        }
        if (routed) {
          outcome = { kind: "ok", text: "Moved message " + (k + 1) + " back to queue " + q(target) + "." };
        } else {
          const back = await putBack(m, lost);
          outcome = {
            kind: "error",
            text: "Could not move the message to " + q(target) + ": " + why + "." +
              (back ? " It was put back at the end of " + q(dlq) + "." : ""),
          };
        }
      } else if (await putBack(m, lost)) rotated++;
    }
    if (t < 0) {
      outcome = {
        kind: "error",
        text: "Nothing was moved: message " + (k + 1) +
          " was no longer where it was shown (the queue changed since it was inspected). ",
      };
      t = -1;
    }
    let text = outcome.text;
    if (outcome.kind === "ok") {
      text +=
        " It was published through the default exchange with its properties and headers (x-death included).";
    }
    if (rotated > 0) {
      text += " " + rotated + " message" + (rotated === 1 ? " that was" : "s that were") +
        " ahead of it in " + q(dlq) +
        " had to be taken as well and " + (rotated === 1 ? "was" : "were") +
        " published again at the end of " + q(dlq) + ".";
    }
    report(outcome.kind, text, lost);
    await inspect();
  }

  async function moveAll() {
    const n = shown.length;
    if (
      !confirm(
        "Move the first " + n + " messages of " + dlq + " back to the queues they were dead-lettered from?",
      )
    ) return;
    const moved = new Map();
    const lost = [];
    let kept = 0;
    let failed = 0;
    let stopped = "";
    for (let i = 0; i < n; i++) {
      let taken;
      try {
        taken = await request("POST", getPath(vhost, dlq), {
          count: 1,
          ackmode: "ack_requeue_false",
          encoding: "auto",
        });
      } catch (err) {
        stopped = " Stopped early: " + err.message;
        break;
      }
      if (taken.length === 0) break;
      const m = taken[0];
      const target = xDeath(m)[0]?.queue;
      let routed = false;
      if (typeof target === "string") {
        try {
          routed = await publishTo(vhost, target, m);
        } catch {
          routed = false;
        }
      }
      if (routed) moved.set(target, (moved.get(target) ?? 0) + 1);
      else {
        if (typeof target === "string") failed++;
        else kept++;
        await putBack(m, lost);
      }
    }
    const parts = [...moved].map(([name, c]) => c + " to " + q(name));
    let text = parts.length ? "Moved " + parts.join(", ") + "." : "No message was moved.";
    if (failed) {
      text += " " + failed + " could not be moved (their queue is gone) and went back to the end of " +
        q(dlq) + ".";
    }
    if (kept) text += " " + kept + " without x-death went back to the end of " + q(dlq) + ".";
    report(failed || lost.length || stopped ? "error" : "ok", text + stopped, lost);
    await inspect();
  }

  replace(
    main,
    h("div", { class: "crumbs" }, h("a", { href: "#/dead-letters" }, "Dead letters"), " / vhost " + vhost),
    h("h1", null, "Dead letters in ", h("span", { class: "mono" }, dlq)),
    h(
      "p",
      { class: "muted" },
      "Looking takes the messages and puts them straight back in order (they are marked redelivered). " +
        "Moving a message back publishes it, with its headers, to the queue named in its latest x-death entry.",
    ),
    h(
      "div",
      { class: "toolbar" },
      countSelect,
      h("button", { onclick: inspect, "data-action": "inspect" }, "Look again"),
      h("span", { class: "spacer" }),
      queueLink(vhost, dlq),
    ),
    status,
    h("div", { class: "panel" }, results),
  );
  inspect();
}
