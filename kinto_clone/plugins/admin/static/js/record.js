// One record: the form generated from the collection's schema, its raw JSON,
// its attachment, permissions and history.

import { API_ROOT, path, request, upload } from "./api.js";
import { deleteButton, editableData, jsonEditor, link, tabs } from "./common.js";
import { field, flash, formatDate, guarded, h, mount } from "./dom.js";
import { renderHistory } from "./history.js";
import { renderPermissions } from "./permissions.js";
import { schemaForm } from "./schemaform.js";

/** The form to create (record null) or edit a record, from the collection's schema. */
export function recordEditor({ collection, bucketId, collectionId, record }) {
  const recordsPath = path("buckets", bucketId, "collections", collectionId, "records");
  if (!collection.schema) {
    return h("div", {},
      h("p", { class: "hint" }, "This collection has no JSON schema: edit the record as JSON (its Settings tab defines a schema)."),
      jsonEditor({
        id: "record-json",
        label: "Record (JSON)",
        value: record ? editableData(record) : {},
        saveLabel: record ? "Save record" : "Create record",
        save: (data) => saveRecord(data),
      }));
  }
  const generated = schemaForm(collection.schema, record || {});
  const idInput = record ? null : h("input", { type: "text", id: "new-record-id", autocomplete: "off" });
  const button = h("button", { type: "submit" }, record ? "Save record" : "Create record");
  const form = h("form", { novalidate: true, "aria-label": record ? "Edit record" : "New record" },
    idInput ? field("Id (optional)", idInput) : null, generated.element, button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(button, () => saveRecord(generated.collect(), idInput && idInput.value.trim()));
  });
  return form;

  async function saveRecord(data, newId) {
    if (record) {
      await request("PUT", `${recordsPath}/${encodeURIComponent(record.id)}`, {
        body: { data }, headers: { "If-Match": `"${record.last_modified}"` },
      });
      flash("Record saved.");
      window.dispatchEvent(new HashChangeEvent("hashchange"));
      return;
    }
    const { data: created } = newId
      ? await request("PUT", `${recordsPath}/${encodeURIComponent(newId)}`, { body: { data }, headers: { "If-None-Match": "*" } })
      : await request("POST", recordsPath, { body: { data } });
    window.location.hash = link("buckets", bucketId, "collections", collectionId, "records", created.data.id);
    flash(`Record ${created.data.id} created.`);
  }
}

/** Where an attachment is downloaded from: its location, under the advertised base URL. */
function attachmentUrl(server, attachment) {
  const location = String(attachment.location || "");
  if (/^https?:\/\//i.test(location)) return location;
  const base = (server.capabilities.attachments && server.capabilities.attachments.base_url) || API_ROOT;
  return new URL(location.replace(/^\//, ""), base.endsWith("/") ? base : `${base}/`).href;
}

function attachmentPanel(server, recordPath, record) {
  const attachment = record.attachment;
  const fileInput = h("input", { type: "file", id: "attachment-file" });
  const send = h("button", { type: "submit" }, attachment ? "Replace attachment" : "Upload attachment");
  const progress = h("progress", { id: "attachment-progress", max: "1", value: "0", hidden: true, "aria-label": "Upload progress" });
  const form = h("form", { "aria-label": "Upload an attachment" }, field("File", fileInput), send, progress);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(send, async () => {
      if (!fileInput.files.length) throw new Error("Choose a file first.");
      const formData = new FormData();
      formData.append("attachment", fileInput.files[0], fileInput.files[0].name);
      progress.hidden = false;
      try {
        await upload(`${recordPath}/attachment`, formData, (fraction) => { progress.value = fraction; });
      } finally {
        progress.hidden = true;
      }
      flash("Attachment uploaded.");
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    });
  });
  const current = attachment ? h("div", { class: "card" },
    h("p", {}, "File: ", h("a", { id: "attachment-download", href: attachmentUrl(server, attachment), download: String(attachment.filename || "attachment") }, String(attachment.filename || "download"))),
    h("p", { class: "hint" }, `${attachment.mimetype || "?"}, ${attachment.size ?? "?"} bytes${attachment.hash ? `, sha256 ${attachment.hash}` : ""}`),
    h("button", { type: "button", class: "danger", id: "attachment-remove", onclick: (event) => {
      if (!window.confirm("Remove the attachment?")) return;
      guarded(event.currentTarget, async () => {
        await request("DELETE", `${recordPath}/attachment`);
        flash("Attachment removed.");
        window.dispatchEvent(new HashChangeEvent("hashchange"));
      });
    } }, "Remove attachment")) : h("p", {}, "No attachment.");
  return h("div", {}, current, form);
}

export async function renderRecord({ main, query, server }, bucketId, collectionId, recordId) {
  const tab = query.get("tab") || "form";
  const collectionPath = path("buckets", bucketId, "collections", collectionId);
  const recordPath = `${collectionPath}/records/${encodeURIComponent(recordId)}`;
  const [{ data: recordAnswer }, collection] = await Promise.all([
    request("GET", recordPath),
    // Someone may read a record without reading its collection: no form then.
    request("GET", collectionPath).then(({ data }) => data.data).catch(() => ({})),
  ]);
  const record = recordAnswer.data;
  const entries = [["form", "Edit"], ["json", "JSON"]];
  if (server.capabilities.attachments) entries.push(["attachment", "Attachment"]);
  entries.push(["permissions", "Permissions"]);
  if (server.capabilities.history) entries.push(["history", "History"]);
  const content = h("div");
  mount(main, h("h1", {}, `Record ${recordId}`),
    h("p", { class: "hint" }, `Last modified ${formatDate(record.last_modified)}`),
    tabs(link("buckets", bucketId, "collections", collectionId, "records", recordId), tab, entries), content);
  if (tab === "form") {
    mount(content, recordEditor({ collection, bucketId, collectionId, record }), h("h2", {}, "Danger zone"),
      deleteButton(recordPath, `record ${recordId}`, link("buckets", bucketId, "collections", collectionId)));
  } else if (tab === "json") {
    mount(content,
      h("pre", { id: "record-raw" }, JSON.stringify(recordAnswer, null, 2)),
      jsonEditor({
        id: "record-json",
        label: "Edit the data (JSON)",
        value: editableData(record),
        saveLabel: "Save record",
        save: async (data) => {
          await request("PUT", recordPath, { body: { data }, headers: { "If-Match": `"${record.last_modified}"` } });
          flash("Record saved.");
          window.dispatchEvent(new HashChangeEvent("hashchange"));
        },
      }));
  } else if (tab === "attachment") {
    mount(content, attachmentPanel(server, recordPath, record));
  } else if (tab === "permissions") {
    await renderPermissions(content, { target: recordPath, kind: "record", bucketId, server });
  } else if (tab === "history") {
    await renderHistory(content, { bucketId, filters: { uri: `/buckets/${bucketId}/collections/${collectionId}/records/${recordId}` } });
  }
}
