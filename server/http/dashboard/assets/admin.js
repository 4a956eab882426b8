// Admin: users, virtual hosts, permissions and policies, each a table and an "add" form over
// /api/users, /api/vhosts, /api/permissions and /api/policies. The broker decides who may do
// what: a refused change shows the API's reason. Not polled, so typing is never interrupted;
// the tables reload after each change.

import { request, seg } from "./api.js";
import { formValues, h, notice, replace, show } from "./dom.js";
import { state } from "./state.js";

const TAGS = ["administrator", "monitoring", "policymaker", "management", "impersonator"];

function section(title, id, ...children) {
  return h("div", { class: "panel", "data-section": id }, h("h2", null, title), ...children);
}

function table(headers, rows) {
  return h(
    "table",
    null,
    h("thead", null, h("tr", null, headers.map((t) => h("th", null, t)))),
    h("tbody", null, rows),
  );
}

function options(list, selected) {
  return list.map((v) => h("option", { value: v, selected: v === selected }, v));
}

export function adminPage(main) {
  const users = h("div");
  const vhosts = h("div");
  const perms = h("div");
  const policies = h("div");
  const status = h("div", { "data-role": "admin-status" });
  const userSelect = h("select", { name: "user", required: true });
  const permVhost = h("select", { name: "vhost" });
  const policyVhost = h("select", { name: "vhost" });

  function say(kind, text) {
    replace(status, notice(kind, text));
    status.scrollIntoView({ block: "nearest" });
  }

  /** Runs a change, says what happened, and reloads the tables. */
  async function act(done, fn) {
    try {
      await fn();
      say("ok", done);
    } catch (err) {
      say("error", err.message.startsWith("Cannot") ? err.message : "Failed: " + err.message);
    }
    await load();
  }

  function del(label, path, what) {
    return h("button", {
      class: "small danger",
      onclick: () =>
        confirm("Delete " + what + "?") && act("Deleted " + what + ".", () => request("DELETE", path)),
    }, label);
  }

  async function load() {
    const [u, v, p, pol] = await Promise.allSettled([
      request("GET", "/api/users"),
      request("GET", "/api/vhosts"),
      request("GET", "/api/permissions"),
      request("GET", "/api/policies"),
    ]);
    if (u.status === "fulfilled") {
      replace(
        users,
        table(
          ["Name", "Tags", ""],
          u.value.map((x) =>
            h(
              "tr",
              { "data-user": x.name },
              h("td", null, x.name),
              h(
                "td",
                null,
                (Array.isArray(x.tags) ? x.tags : String(x.tags ?? "").split(",")).filter(Boolean).map((t) =>
                  h("span", { class: "tag" }, t)
                ),
              ),
              h("td", null, del("Delete", "/api/users/" + seg(x.name), "user " + x.name)),
            )
          ),
        ),
      );
      const keep = userSelect.value;
      replace(userSelect, options(u.value.map((x) => x.name), keep));
    } else replace(users, notice("error", "Cannot list users: " + u.reason.message));
    if (v.status === "fulfilled") {
      state.vhosts = v.value.map((x) => x.name);
      replace(
        vhosts,
        table(
          ["Name", "Messages", ""],
          v.value.map((x) =>
            h(
              "tr",
              { "data-vhost": x.name },
              h("td", null, x.name),
              h("td", { class: "num" }, show(x.messages)),
              h(
                "td",
                null,
                del("Delete", "/api/vhosts/" + seg(x.name), "vhost " + x.name + " and everything in it"),
              ),
            )
          ),
        ),
      );
      for (const sel of [permVhost, policyVhost]) {
        const keep = sel.value || state.vhost || "/";
        replace(sel, options(state.vhosts, keep));
      }
    } else replace(vhosts, notice("error", "Cannot list vhosts: " + v.reason.message));
    if (p.status === "fulfilled") {
      replace(
        perms,
        table(
          ["User", "Vhost", "Configure", "Write", "Read", ""],
          p.value.map((x) =>
            h(
              "tr",
              null,
              h("td", null, x.user),
              h("td", null, x.vhost),
              h("td", { class: "mono" }, x.configure),
              h("td", { class: "mono" }, x.write),
              h("td", { class: "mono" }, x.read),
              h(
                "td",
                null,
                del(
                  "Clear",
                  "/api/permissions/" + seg(x.vhost) + "/" + seg(x.user),
                  "the permissions of " + x.user + " in " + x.vhost,
                ),
              ),
            )
          ),
        ),
      );
    } else replace(perms, notice("error", "Cannot list permissions: " + p.reason.message));
    if (pol.status === "fulfilled") {
      replace(
        policies,
        pol.value.length === 0 ? h("div", { class: "empty" }, "No policies.") : table(
          ["Vhost", "Name", "Pattern", "Apply to", "Priority", "Definition", ""],
          pol.value.map((x) =>
            h(
              "tr",
              { "data-policy": x.name },
              h("td", null, x.vhost),
              h("td", null, x.name),
              h("td", { class: "mono" }, x.pattern),
              h("td", null, x["apply-to"]),
              h("td", { class: "num" }, show(x.priority)),
              h("td", { class: "mono" }, show(x.definition)),
              h(
                "td",
                null,
                del("Delete", "/api/policies/" + seg(x.vhost) + "/" + seg(x.name), "policy " + x.name),
              ),
            )
          ),
        ),
      );
    } else {
      replace(
        policies,
        notice(
          "error",
          "Cannot list policies: " + pol.reason.message +
            (pol.reason.status === 404 ? " (this broker has no /api/policies yet)" : ""),
        ),
      );
    }
  }

  const userForm = h(
    "form",
    {
      class: "stack",
      "data-form": "add-user",
      onsubmit: (ev) => {
        ev.preventDefault();
        const v = formValues(userForm);
        const tags = v.tags.split(",").map((t) => t.trim()).filter(Boolean);
        act(
          "User " + v.name + " saved.",
          () => request("PUT", "/api/users/" + seg(v.name), { password: v.password, tags }),
        )
          .then(() => userForm.reset());
      },
    },
    h("label", null, "Username"),
    h("input", { name: "name", required: true, autocomplete: "off" }),
    h("label", null, "Password"),
    h("input", { name: "password", type: "password", required: true, autocomplete: "new-password" }),
    h("label", null, "Tags"),
    h("input", { name: "tags", list: "warren-tags", placeholder: "comma-separated, e.g. management" }),
    h("datalist", { id: "warren-tags" }, TAGS.map((t) => h("option", { value: t }))),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Add user")),
  );

  const vhostForm = h(
    "form",
    {
      class: "stack",
      "data-form": "add-vhost",
      onsubmit: (ev) => {
        ev.preventDefault();
        const v = formValues(vhostForm);
        act("Virtual host " + v.name + " created.", () => request("PUT", "/api/vhosts/" + seg(v.name), {}))
          .then(() => vhostForm.reset());
      },
    },
    h("label", null, "Name"),
    h("input", { name: "name", required: true }),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Add virtual host")),
  );

  const permForm = h(
    "form",
    {
      class: "stack",
      "data-form": "set-permission",
      onsubmit: (ev) => {
        ev.preventDefault();
        const v = formValues(permForm);
        act(
          "Permissions of " + v.user + " in " + v.vhost + " set.",
          () =>
            request("PUT", "/api/permissions/" + seg(v.vhost) + "/" + seg(v.user), {
              configure: v.configure,
              write: v.write,
              read: v.read,
            }),
        );
      },
    },
    h("label", null, "User"),
    userSelect,
    h("label", null, "Virtual host"),
    permVhost,
    h("label", null, "Configure regexp"),
    h("input", { name: "configure", value: ".*" }),
    h("label", null, "Write regexp"),
    h("input", { name: "write", value: ".*" }),
    h("label", null, "Read regexp"),
    h("input", { name: "read", value: ".*" }),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Set permission")),
  );

  const policyForm = h(
    "form",
    {
      class: "stack",
      "data-form": "add-policy",
      onsubmit: (ev) => {
        ev.preventDefault();
        const v = formValues(policyForm);
        let definition;
        try {
          definition = JSON.parse(v.definition);
          if (definition === null || typeof definition !== "object" || Array.isArray(definition)) {
            throw new Error("not an object");
          }
        } catch (err) {
          say("error", "The definition must be a JSON object: " + err.message);
          return;
        }
        act(
          "Policy " + v.name + " saved in " + v.vhost + ".",
          () =>
            request("PUT", "/api/policies/" + seg(v.vhost) + "/" + seg(v.name), {
              pattern: v.pattern,
              definition,
              priority: Number(v.priority) || 0,
              "apply-to": v.applyTo,
            }).catch((err) => {
              if (err.status === 404) err.message += " (no such vhost, or this broker has no /api/policies)";
              throw err;
            }),
        );
      },
    },
    h("label", null, "Virtual host"),
    policyVhost,
    h("label", null, "Name"),
    h("input", { name: "name", required: true }),
    h("label", null, "Pattern (regexp)"),
    h("input", { name: "pattern", required: true, placeholder: "^orders\\." }),
    h("label", null, "Apply to"),
    h("select", { name: "applyTo" }, options(["all", "queues", "exchanges"], "all")),
    h("label", null, "Priority"),
    h("input", { name: "priority", type: "number", value: "0" }),
    h("label", null, "Definition (JSON)"),
    h("textarea", {
      name: "definition",
      placeholder: '{"max-length": 10000, "dead-letter-exchange": "dlx"}',
      required: true,
    }),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Add policy")),
  );

  replace(
    main,
    h("h1", null, "Admin"),
    status,
    h(
      "div",
      { class: "grid" },
      section("Users", "users", users, h("h3", null, "Add a user"), userForm),
      section("Virtual hosts", "vhosts", vhosts, h("h3", null, "Add a virtual host"), vhostForm),
    ),
    section("Permissions", "permissions", perms, h("h3", null, "Set a permission"), permForm),
    section("Policies", "policies", policies, h("h3", null, "Add a policy"), policyForm),
  );
  load();
  return null;
}
