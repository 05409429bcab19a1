// A paginated table of a Kinto list: sorting by a column, filters in
// Kinto's querystring syntax, pages followed through the Next-Page header.

import { countObjects, followChanges, hasLiveChanges, listPage, request } from "./api.js";
import { display, flashError, formatDate, h, mount } from "./dom.js";

/** How often a shown list asks whether it changed (answered by its ETag), when
 * the server has no live changes; with them, how often the feed is checked. */
const LIVE_INTERVAL_MS = 3000;
/** Events arriving together reload the page once. */
const LIVE_RELOAD_DELAY_MS = 100;

const OPERATORS = [
  ["", "equals"], ["not_", "differs from"], ["like_", "contains (like)"], ["min_", "≥"], ["max_", "≤"],
  ["gt_", ">"], ["lt_", "<"], ["in_", "is one of (a,b)"], ["has_", "has field (true/false)"],
];

/** The value of a dotted field of an object (`address.city`). */
export function fieldValue(object, name) {
  return name.split(".").reduce((value, key) => (value && typeof value === "object" ? value[key] : undefined), object);
}

/**
 * Render a list into `container`.
 * options: target (API path of the list), columns ([{label, field}]), link(item) -> href,
 * sort (default `-last_modified`), pageSize, label (for the region), emptyText.
 */
export function renderList(container, options) {
  const state = {
    sort: options.sort || "-last_modified",
    filters: [],
    pages: [null],
    pageIndex: 0,
    firstIndex: 0,
  };
  const columns = [{ label: "id", field: "id" }, ...options.columns, { label: "last modified", field: "last_modified" }];
  const summary = h("p", { class: "hint", "aria-live": "polite" });
  const table = h("div", { class: "table-wrap" });
  const pager = h("div", { class: "pager" });
  const filterBox = h("div");

  const query = () => {
    const q = { _sort: state.sort, _limit: String(options.pageSize || 50) };
    for (const filter of state.filters) q[`${filter.operator}${filter.field}`] = filter.value;
    return q;
  };

  // Loads overlap (a click while a live reload or a new sort is on its way):
  // only the latest one started may draw, and a page whose link is not known
  // yet (the pager of a list being re-sorted) is not read as the first one.
  let latestLoad = 0;
  async function load(pageIndex) {
    const url = state.pages[pageIndex];
    if (pageIndex > 0 && !url) return;
    const thisLoad = ++latestLoad;
    try {
      const [page, total] = await Promise.all([
        url ? listPage(url) : listPage(options.target, query()),
        pageIndex === 0 ? countObjects(options.target, query()).catch(() => null) : Promise.resolve(state.total),
      ]);
      if (thisLoad !== latestLoad) return;
      state.pageIndex = pageIndex;
      state.total = total;
      state.pages[pageIndex + 1] = page.next;
      state.pages.length = pageIndex + 2;
      draw(page);
    } catch (error) {
      if (thisLoad !== latestLoad) return;
      flashError(error);
      mount(table, h("p", { class: "field-error" }, error.describe ? error.describe() : String(error)));
    }
  }

  function sortButton(column) {
    const ascending = state.sort === column.field;
    const descending = state.sort === `-${column.field}`;
    const arrow = ascending ? " ▲" : descending ? " ▼" : "";
    return h("button", {
      type: "button",
      "aria-label": `Sort by ${column.label}${ascending ? " (ascending)" : descending ? " (descending)" : ""}`,
      onclick: () => {
        state.sort = ascending ? `-${column.field}` : column.field;
        restart();
      },
    }, column.label + arrow);
  }

  function draw(page) {
    const size = Number(options.pageSize || 50);
    const start = state.pageIndex * size;
    const end = start + page.items.length;
    summary.textContent = page.items.length
      ? `Showing ${start + 1}-${end}${state.total !== null && state.total !== undefined ? ` of ${state.total}` : ""}`
      : options.emptyText || "Nothing here yet.";
    const rows = page.items.map((item) => h("tr", {},
      columns.map((column, index) => {
        const value = fieldValue(item, column.field);
        const text = column.field === "last_modified" ? formatDate(value) : display(value);
        const cell = index === 0 && options.link ? h("a", { href: options.link(item) }, text) : text;
        const classes = [index === 0 ? "" : "value", column.field === "last_modified" ? "hide-narrow" : ""];
        return h("td", { class: classes.join(" ").trim() }, cell);
      })));
    mount(table, page.items.length ? h("table", { "aria-label": options.label || "List" },
      h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col", class: column.field === "last_modified" ? "hide-narrow" : null }, sortButton(column))))),
      h("tbody", {}, rows)) : null);
    mount(pager,
      h("button", { type: "button", class: "secondary previous", disabled: state.pageIndex === 0, onclick: () => load(state.pageIndex - 1) }, "Previous page"),
      h("span", {}, `Page ${state.pageIndex + 1}`),
      h("button", { type: "button", class: "secondary next", disabled: !page.next, onclick: () => load(state.pageIndex + 1) }, "Next page"));
  }

  function restart() {
    state.pages = [null];
    load(0);
  }

  function drawFilters() {
    const fieldInput = h("input", { type: "text", id: `${options.idPrefix || "list"}-filter-field`, placeholder: "field" });
    const operator = h("select", { id: `${options.idPrefix || "list"}-filter-op` }, OPERATORS.map(([value, label]) => h("option", { value }, label)));
    const valueInput = h("input", { type: "text", id: `${options.idPrefix || "list"}-filter-value`, placeholder: "value" });
    const form = h("form", { class: "filters", "aria-label": "Filters" },
      h("div", {}, h("label", { for: fieldInput.id }, "Field"), fieldInput),
      h("div", {}, h("label", { for: operator.id }, "Condition"), operator),
      h("div", {}, h("label", { for: valueInput.id }, "Value"), valueInput),
      h("div", {}, h("button", { type: "submit" }, "Add filter")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!fieldInput.value.trim()) return;
      state.filters.push({ field: fieldInput.value.trim(), operator: operator.value, value: valueInput.value });
      drawFilters();
      restart();
    });
    const active = state.filters.map((filter, index) => h("button", {
      type: "button",
      class: "secondary",
      "aria-label": `Remove filter ${filter.operator}${filter.field}=${filter.value}`,
      onclick: () => {
        state.filters.splice(index, 1);
        drawFilters();
        restart();
      },
    }, `${filter.operator}${filter.field}=${filter.value} ✕`));
    mount(filterBox, form, active.length ? h("p", {}, "Active filters: ", active) : null);
  }

  // Live updates: while the list is shown (and the tab visible), a change
  // reloads the page being read. A server announcing `live` streams the list's
  // changes (one event stream, closed when the list is left or hidden; the page
  // is read again once it opens, for what changed before); else,
  // or if the stream is refused, the list's ETag (the latest change under its
  // parent, deletions included) is polled with the cheapest request giving it,
  // one id and no count.
  const live = h("input", { type: "checkbox", id: `${options.idPrefix || "list"}-live`, checked: true });
  let seenEtag = null;
  let feed = null;
  let feedRefused = false;
  let reloadDue = null;
  function reloadSoon() {
    reloadDue ??= setTimeout(() => {
      reloadDue = null;
      load(state.pageIndex);
    }, LIVE_RELOAD_DELAY_MS);
  }
  async function openFeed() {
    const controller = new AbortController();
    feed = controller;
    try {
      await followChanges(options.target, reloadSoon, controller.signal);
    } catch (error) {
      if (error.name !== "AbortError") feedRefused = true;
    } finally {
      if (feed === controller) feed = null;
    }
  }
  async function poll() {
    if (!container.isConnected) {
      feed?.abort();
      return;
    }
    setTimeout(poll, LIVE_INTERVAL_MS);
    if (!live.checked || document.hidden) {
      feed?.abort();
      return;
    }
    if (hasLiveChanges() && !feedRefused) {
      if (!feed) openFeed();
      return;
    }
    try {
      const { headers } = await request("GET", options.target, { query: { _limit: "1", _fields: "id" } });
      const etag = headers.get("ETag");
      if (seenEtag !== null && etag !== seenEtag) await load(state.pageIndex);
      seenEtag = etag;
    } catch {
      // Shown at the next action: a failing poll must not flood the page.
    }
  }

  drawFilters();
  mount(container, filterBox, h("label", { class: "inline", for: live.id }, live, "Live updates"), summary, table, pager);
  restart();
  setTimeout(poll, 0);
  return { reload: restart };
}
