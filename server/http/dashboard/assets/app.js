// Warren dashboard: the shell (login, header, tabs, vhost choice), the hash router and the poller.
// Each page is { title, render(main, params) → { refresh?() } }; the current page's refresh()
// runs every 5 s while the tab is visible, one request at a time.

import { login, logout, request, session, setOnUnauthorized } from "./api.js";
import { h, notice, replace } from "./dom.js";
import {
  channelsPage,
  connectionsPage,
  exchangesPage,
  overviewPage,
  queuesPage,
  sampleOverview,
} from "./pages.js";
import { queuePage } from "./queue.js";
import { deadLettersPage } from "./dead_letters.js";
import { adminPage } from "./admin.js";
import { setVhost, state } from "./state.js";

const POLL_MS = 5000;
const root = document.getElementById("app");

const TABS = [
  ["overview", "Overview", overviewPage],
  ["connections", "Connections", connectionsPage],
  ["channels", "Channels", channelsPage],
  ["exchanges", "Exchanges", exchangesPage],
  ["queues", "Queues", queuesPage],
  ["dead-letters", "Dead letters", deadLettersPage],
  ["admin", "Admin", adminPage],
];

let current = null; // { refresh?() } of the page shown
let busy = false;
let timer = 0;

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { tab: parts[0] || "overview", args: parts.slice(1) };
}

function showLogin(message) {
  clearInterval(timer);
  current = null;
  const user = h("input", {
    name: "username",
    autocomplete: "username",
    placeholder: "Username",
    required: true,
  });
  const pass = h("input", {
    name: "password",
    type: "password",
    autocomplete: "current-password",
    placeholder: "Password",
    required: true,
  });
  const status = h("div");
  const form = h(
    "form",
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        replace(status);
        try {
          await login(user.value, pass.value);
          start();
        } catch (err) {
          replace(
            status,
            notice(
              "error",
              err.status === 401 ? "Login failed: " + err.message : "Cannot reach the broker: " + err.message,
            ),
          );
        }
      },
    },
    user,
    pass,
    h("button", { class: "primary", type: "submit" }, "Log in"),
    status,
  );
  replace(
    root,
    h(
      "div",
      { class: "login panel" },
      h("h1", null, "Warren"),
      h("p", { class: "muted" }, "Log in with a broker user that has a management tag."),
      message ? notice("info", message) : null,
      form,
    ),
  );
  user.focus();
}

async function loadVhosts() {
  try {
    state.vhosts = (await request("GET", "/api/vhosts?columns=name")).map((v) => v.name);
  } catch {
    state.vhosts = [];
  }
}

function headerBar(tab) {
  const me = session();
  const vhostSelect = h(
    "select",
    {
      title: "Virtual host",
      "data-role": "vhost",
      onchange: () => {
        setVhost(vhostSelect.value);
        route();
      },
    },
    h("option", { value: "" }, "All vhosts"),
    state.vhosts.map((v) => h("option", { value: v, selected: v === state.vhost }, v)),
  );
  return h(
    "header",
    { class: "top" },
    h("div", { class: "brand" }, "Warren", h("span", null, ".")),
    h(
      "nav",
      null,
      TABS.map(([id, label]) => h("a", { href: "#/" + id, class: id === tab ? "active" : "" }, label)),
    ),
    h(
      "div",
      { class: "who" },
      vhostSelect,
      h("span", { title: (me?.tags ?? []).join(", ") }, me?.name ?? ""),
      h("button", {
        class: "small",
        onclick: () => {
          logout();
          showLogin("You are logged out.");
        },
      }, "Log out"),
    ),
  );
}

const pollError = h("div", { "data-role": "poll-error" });

function route() {
  if (!session()) return showLogin();
  const { tab, args } = parseHash();
  const main = h("div"); // the page's own content; failed polls show above it
  const known = TABS.find(([id]) => id === tab);
  replace(pollError);
  replace(root, headerBar(tab === "queue" ? "queues" : tab), h("main", null, pollError, main));
  let page;
  if (tab === "queue" && args.length >= 2) page = queuePage;
  else if (known) page = known[2];
  else {
    replace(main, notice("error", "No such page."), h("a", { href: "#/overview" }, "Back to the overview"));
    current = null;
    return;
  }
  document.title = "Warren · " + (tab === "queue" ? args[1] : known[1]);
  current = page(main, args) ?? null;
  if (current?.refresh) poll(current.refresh);
}

/** Runs one refresh, showing a failure above the page (once, not one notice per poll). */
async function poll(fn) {
  try {
    await fn();
    replace(pollError);
  } catch (err) {
    // 401 sends the user to the login form (see setOnUnauthorized).
    if (err?.status !== 401) {
      replace(pollError, notice("error", "Could not refresh: " + (err?.message ?? err)));
    }
  }
}

async function tick() {
  if (busy || document.hidden || !session()) return;
  busy = true;
  try {
    // One /api/overview per tick feeds the charts on every page (so they have a history).
    await poll(async () => {
      await sampleOverview();
      await current?.refresh?.();
    });
  } finally {
    busy = false;
  }
}

async function start() {
  await loadVhosts();
  if (state.vhost && !state.vhosts.includes(state.vhost)) state.vhost = "";
  if (!location.hash) history.replaceState(null, "", "#/overview");
  await poll(sampleOverview);
  route();
  clearInterval(timer);
  timer = setInterval(tick, POLL_MS);
}

setOnUnauthorized(() => {
  logout();
  showLogin("Your login is no longer valid. Please log in again.");
});
addEventListener("hashchange", () => session() && route());
document.addEventListener("visibilitychange", () => !document.hidden && tick());

if (session()) start();
else showLogin();
