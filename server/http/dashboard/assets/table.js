// A paged, sortable, filterable table over one of the API's list endpoints. Pages, sorting and
// the name filter are done by the broker (RabbitMQ's page / page_size / sort / name parameters),
// so a list of 10,000 queues costs one page per refresh, and `columns=` keeps the answers small.

import { query, request } from "./api.js";
import { h, notice, replace } from "./dom.js";

/**
 * @param options {
 *   path: () => string                   the list endpoint (e.g. "/api/queues/%2F")
 *   columns: [{ title, value: (row) => node|string, num?, sort?: "field.path" }]
 *   fields?: string[]                     columns= asked of the API
 *   pageSize?: number                     @default 50
 *   empty?: string                        text when the list is empty
 *   filter?: boolean                      show the name filter @default true
 * }
 * @returns { el, refresh(): Promise<void> }
 */
export function pagedTable(options) {
  const st = { page: 1, pageSize: options.pageSize ?? 50, sort: "", reverse: false, filter: "" };
  const body = h("div");
  const info = h("span", { class: "muted" });
  const pager = h("div", { class: "pager" });
  let timer = 0;
  const filterInput = h("input", {
    type: "search",
    placeholder: "Filter by name",
    "data-role": "filter",
    oninput: () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        st.filter = filterInput.value;
        st.page = 1;
        refresh();
      }, 250);
    },
  });
  const sizeSelect = h(
    "select",
    {
      title: "Rows per page",
      onchange: () => {
        st.pageSize = Number(sizeSelect.value);
        st.page = 1;
        refresh();
      },
    },
    [20, 50, 100, 500].map((n) =>
      h("option", { value: String(n), selected: n === st.pageSize }, n + " per page")
    ),
  );
  const el = h(
    "div",
    null,
    h(
      "div",
      { class: "toolbar" },
      options.filter === false ? null : filterInput,
      h("span", { class: "spacer" }),
      info,
    ),
    body,
    pager,
  );

  function header() {
    return h(
      "tr",
      null,
      options.columns.map((c) => {
        const arrow = c.sort && st.sort === c.sort ? (st.reverse ? " ▼" : " ▲") : "";
        return h(
          "th",
          {
            class: (c.num ? "num " : "") + (c.sort ? "sortable" : ""),
            onclick: c.sort
              ? () => {
                if (st.sort === c.sort) st.reverse = !st.reverse;
                else {
                  st.sort = c.sort;
                  st.reverse = !!c.num; // numbers: biggest first
                }
                refresh();
              }
              : undefined,
          },
          c.title + arrow,
        );
      }),
    );
  }

  async function refresh() {
    const params = { page: st.page, page_size: st.pageSize, name: st.filter };
    // The default order (by name) lets the broker format only the page asked for.
    if (st.sort && st.sort !== "name") params.sort = st.sort;
    if (st.reverse) params.sort_reverse = "true";
    if (options.fields) params.columns = options.fields.join(",");
    let res;
    try {
      res = await request("GET", options.path() + query(params));
    } catch (err) {
      if (err.error === "page_out_of_range" && st.page > 1) {
        st.page = 1;
        return refresh();
      }
      replace(body, notice("error", "Could not load the list: " + err.message));
      return;
    }
    const rows = res.items ?? [];
    info.textContent = res.filtered_count === res.total_count
      ? res.total_count + " in total"
      : res.filtered_count + " of " + res.total_count + " match";
    if (rows.length === 0) {
      replace(
        body,
        h("div", { class: "empty" }, st.filter ? "Nothing matches the filter." : options.empty ?? "None."),
      );
    } else {
      replace(
        body,
        h(
          "table",
          null,
          h("thead", null, header()),
          h(
            "tbody",
            null,
            rows.map((row) =>
              h("tr", null, options.columns.map((c) => h("td", { class: c.num ? "num" : "" }, c.value(row))))
            ),
          ),
        ),
      );
    }
    const pages = Math.max(1, res.page_count ?? 1);
    replace(
      pager,
      h("button", {
        class: "small",
        disabled: st.page <= 1,
        onclick: () => {
          st.page--;
          refresh();
        },
      }, "‹ Previous"),
      h("span", { class: "muted", "data-role": "page" }, "Page " + st.page + " of " + pages),
      h("button", {
        class: "small",
        disabled: st.page >= pages,
        onclick: () => {
          st.page++;
          refresh();
        },
      }, "Next ›"),
      sizeSelect,
    );
  }

  return { el, refresh };
}
