// One collection: its records (list and creation form), its settings
// (JSON schema, cache_expires, displayed columns), permissions and history.

import { path, request } from "./api.js";
import { deleteButton, editableData, lines, link, tabs } from "./common.js";
import { field, flash, guarded, h, mount } from "./dom.js";
import { renderHistory } from "./history.js";
import { renderList } from "./listview.js";
import { renderPermissions } from "./permissions.js";
import { recordEditor } from "./record.js";

/** The columns a collection lists: its `displayFields`, else its schema's first properties. */
function displayedFields(collection) {
  if (Array.isArray(collection.displayFields) && collection.displayFields.length) return collection.displayFields;
  const properties = Object.keys((collection.schema && collection.schema.properties) || {});
  return properties.slice(0, 4);
}

function settingsForm(collectionPath, collection) {
  const schema = h("textarea", { id: "collection-schema", class: "json", spellcheck: "false" });
  schema.value = collection.schema ? JSON.stringify(collection.schema, null, 2) : "";
  const cacheExpires = h("input", { type: "text", inputmode: "numeric", id: "collection-cache-expires", value: collection.cache_expires ?? "" });
  const columns = h("input", { type: "text", id: "collection-display-fields", value: (collection.displayFields || []).join(", ") });
  const sort = h("input", { type: "text", id: "collection-sort", value: collection.sort || "" });
  const button = h("button", { type: "submit" }, "Save settings");
  const form = h("form", { "aria-label": "Collection settings", novalidate: true },
    field("JSON schema", schema, "Records are checked against it by the server (empty: no schema)."),
    field("cache_expires (seconds)", cacheExpires, "Cache-Control max-age of the records for anonymous readers (empty: none)."),
    field("Displayed fields", columns, "Columns of the records list, comma separated (e.g. title, address.city)."),
    field("Default sort", sort, "e.g. -last_modified or title"),
    button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(button, async () => {
      const data = editableData(collection);
      delete data.schema;
      delete data.cache_expires;
      delete data.displayFields;
      delete data.sort;
      if (schema.value.trim()) {
        try {
          data.schema = JSON.parse(schema.value);
        } catch (error) {
          throw new Error(`JSON schema: invalid JSON (${error.message})`);
        }
      }
      if (cacheExpires.value.trim()) data.cache_expires = Number(cacheExpires.value.trim());
      if (columns.value.trim()) data.displayFields = lines(columns.value);
      if (sort.value.trim()) data.sort = sort.value.trim();
      const { data: saved } = await request("PUT", collectionPath, { body: { data } });
      Object.assign(collection, saved.data);
      flash("Collection settings saved.");
    });
  });
  return form;
}

export async function renderCollection({ main, query, server }, bucketId, collectionId) {
  const tab = query.get("tab") || "records";
  const base = link("buckets", bucketId, "collections", collectionId);
  const collectionPath = path("buckets", bucketId, "collections", collectionId);
  const { data } = await request("GET", collectionPath);
  const collection = data.data;
  const entries = [["records", "Records"], ["new", "New record"], ["settings", "Settings"], ["permissions", "Permissions"]];
  if (server.capabilities.history) entries.push(["history", "History"]);
  const content = h("div");
  mount(main, h("h1", {}, `Collection ${collectionId}`), tabs(base, tab, entries), content);
  if (tab === "records") {
    renderList(content, {
      target: `${collectionPath}/records`,
      columns: displayedFields(collection).map((name) => ({ label: name, field: name })),
      link: (item) => link("buckets", bucketId, "collections", collectionId, "records", item.id),
      sort: collection.sort,
      pageSize: 100,
      label: "Records",
      idPrefix: "records",
      emptyText: "No record you can read.",
    });
  } else if (tab === "new") {
    mount(content, recordEditor({ collection, bucketId, collectionId, record: null }));
  } else if (tab === "settings") {
    mount(content, settingsForm(collectionPath, collection), h("h2", {}, "Danger zone"),
      deleteButton(collectionPath, `collection ${collectionId}`, link("buckets", bucketId)));
  } else if (tab === "permissions") {
    await renderPermissions(content, { target: collectionPath, kind: "collection", bucketId, server });
  } else if (tab === "history") {
    await renderHistory(content, { bucketId, filters: { collection_id: collectionId } });
  }
}
