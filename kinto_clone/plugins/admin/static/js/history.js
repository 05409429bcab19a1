// The history of a bucket, or of one object in it: who changed what, when,
// and a diff of each change against the object's previous version.

import { get, path } from "./api.js";
import { display, flashError, formatDate, h, mount } from "./dom.js";

/** Lines of the difference between two versions of an object. */
export function diffLines(before, after) {
  const out = [];
  for (const part of ["data", "permissions"]) {
    const old = (before && before[part]) || {};
    const now = (after && after[part]) || {};
    for (const key of [...new Set([...Object.keys(old), ...Object.keys(now)])].sort()) {
      if (key === "last_modified") continue;
      const label = part === "data" ? key : `permissions.${key}`;
      if (!(key in old)) out.push(["added", `+ ${label}: ${display(now[key])}`]);
      else if (!(key in now)) out.push(["removed", `- ${label}: ${display(old[key])}`]);
      else if (JSON.stringify(old[key]) !== JSON.stringify(now[key])) {
        out.push(["removed", `- ${label}: ${display(old[key])}`], ["added", `+ ${label}: ${display(now[key])}`]);
      }
    }
  }
  return out;
}

async function previousVersion(bucketId, entry, loaded) {
  const older = loaded.find((other) => other.uri === entry.uri && other.last_modified < entry.last_modified);
  if (older) return older;
  if (entry.action === "create") return null;
  const { data } = await get(path("buckets", bucketId, "history"), {
    query: { uri: entry.uri, _before: String(entry.last_modified), _sort: "-last_modified", _limit: "1" },
  });
  return data.data[0] || null;
}

/** Narrowing a bucket's history: by kind of object and by author. */
function historyFilters(onChange) {
  const kind = h("select", { id: "history-resource" },
    [["", "all"], ["bucket", "bucket"], ["collection", "collections"], ["group", "groups"], ["record", "records"]]
      .map(([value, label]) => h("option", { value }, label)));
  const author = h("input", { type: "text", id: "history-author", placeholder: "e.g. account:alice" });
  const form = h("form", { class: "filters", "aria-label": "History filters" },
    h("div", {}, h("label", { for: kind.id }, "Changes to"), kind),
    h("div", {}, h("label", { for: author.id }, "Made by"), author),
    h("div", {}, h("button", { type: "submit" }, "Show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onChange({ resource_name: kind.value || undefined, user_id: author.value.trim() || undefined });
  });
  return form;
}

/** Render the history of `bucketId`, narrowed by `filters` ({collection_id: ..., ...}). */
export async function renderHistory(container, { bucketId, filters = {}, pageSize = 50 }) {
  const list = h("div");
  let nextPage = null;
  let chosen = {};
  const loaded = [];
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Older changes");

  async function show(pageUrl) {
    const query = { ...filters, ...chosen, _sort: "-last_modified", _limit: String(pageSize) };
    const { data, headers } = pageUrl
      ? await get(pageUrl)
      : await get(path("buckets", bucketId, "history"), { query });
    loaded.push(...data.data);
    nextPage = headers.get("Next-Page");
    more.hidden = !nextPage;
    const previous = await Promise.all(data.data.map((entry) => previousVersion(bucketId, entry, loaded).catch(() => null)));
    data.data.forEach((entry, index) => {
      const changes = entry.action === "delete" ? [["removed", "(deleted)"]] : diffLines(previous[index] && previous[index].target, entry.target);
      list.append(h("article", { class: "card history-entry" },
        h("p", {}, h("strong", {}, entry.action), ` ${entry.resource_name} `, h("code", {}, entry.uri)),
        h("p", { class: "hint" }, `${formatDate(entry.last_modified)} by `, h("code", {}, entry.user_id)),
        h("pre", { class: "diff" }, changes.map(([kind, text]) => h("span", { class: kind }, `${text}\n`)))));
    });
    if (!loaded.length) list.append(h("p", {}, "No change recorded yet."));
  }

  more.addEventListener("click", () => show(nextPage).catch(flashError));
  const narrowing = filters.uri ? null : historyFilters((wanted) => {
    chosen = wanted;
    loaded.length = 0;
    list.replaceChildren();
    show(null).catch(flashError);
  });
  mount(container, narrowing, list, more);
  await show(null);
}
