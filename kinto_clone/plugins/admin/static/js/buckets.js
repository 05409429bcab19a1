// The buckets list, one bucket (its collections, groups, permissions,
// history, attributes) and the signed-in user's identity.

import { path, request } from "./api.js";
import { deleteButton, editableData, jsonEditor, lines, link, tabs } from "./common.js";
import { field, flash, guarded, h, mount } from "./dom.js";
import { renderHistory } from "./history.js";
import { renderList } from "./listview.js";
import { renderPermissions } from "./permissions.js";
import { basicAuthorization, currentSession, saveSession } from "./session.js";

/** A small "create" form: an id (optional when the server may generate one) and extra fields. */
export function createForm({ title, idLabel = "Id", idRequired = false, extra = [], create }) {
  const idInput = h("input", { type: "text", id: `new-${title.replace(/\W+/g, "-").toLowerCase()}-id`, autocomplete: "off" });
  const button = h("button", { type: "submit" }, "Create");
  const form = h("form", { class: "card", "aria-label": title }, h("h2", {}, title),
    field(idLabel + (idRequired ? "" : " (optional)"), idInput), extra.map((item) => item.element), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(button, () => create(idInput.value.trim()));
  });
  return form;
}

export async function renderBuckets({ main }) {
  const list = h("div");
  mount(main, h("h1", {}, "Buckets"), list,
    createForm({
      title: "New bucket",
      create: async (id) => {
        const { data } = id
          ? await request("PUT", path("buckets", id), { body: { data: {} }, headers: { "If-None-Match": "*" } })
          : await request("POST", "buckets", { body: { data: {} } });
        window.location.hash = link("buckets", data.data.id);
        flash(`Bucket ${data.data.id} created.`);
      },
    }));
  renderList(list, { target: "buckets", columns: [], link: (item) => link("buckets", item.id), label: "Buckets", idPrefix: "buckets", emptyText: "No bucket you can read." });
}

export async function renderBucket({ main, query, server }, bucketId) {
  const tab = query.get("tab") || "collections";
  const base = link("buckets", bucketId);
  const entries = [["collections", "Collections"], ["groups", "Groups"], ["permissions", "Permissions"]];
  if (server.capabilities.history) entries.push(["history", "History"]);
  entries.push(["attributes", "Attributes"]);
  const content = h("div");
  mount(main, h("h1", {}, `Bucket ${bucketId}`), tabs(base, tab, entries), content);
  const bucketPath = path("buckets", bucketId);
  if (tab === "collections") {
    const list = h("div");
    mount(content, list, createForm({
      title: "New collection",
      create: async (id) => {
        const target = id ? path("buckets", bucketId, "collections", id) : path("buckets", bucketId, "collections");
        const { data } = await request(id ? "PUT" : "POST", target, { body: { data: {} }, headers: id ? { "If-None-Match": "*" } : {} });
        window.location.hash = `${link("buckets", bucketId, "collections", data.data.id)}?tab=settings`;
        flash(`Collection ${data.data.id} created.`);
      },
    }));
    renderList(list, { target: path("buckets", bucketId, "collections"), columns: [], link: (item) => link("buckets", bucketId, "collections", item.id), label: "Collections", idPrefix: "collections" });
  } else if (tab === "groups") {
    const list = h("div");
    const members = h("textarea", { id: "new-group-members", rows: 3 });
    mount(content, list, createForm({
      title: "New group",
      idRequired: true,
      extra: [{ element: field("Members (one principal per line)", members) }],
      create: async (id) => {
        if (!id) throw new Error("A group needs an id.");
        await request("PUT", path("buckets", bucketId, "groups", id), { body: { data: { members: lines(members.value) } }, headers: { "If-None-Match": "*" } });
        window.location.hash = link("buckets", bucketId, "groups", id);
        flash(`Group ${id} created.`);
      },
    }));
    renderList(list, { target: path("buckets", bucketId, "groups"), columns: [{ label: "members", field: "members" }], link: (item) => link("buckets", bucketId, "groups", item.id), label: "Groups", idPrefix: "groups" });
  } else if (tab === "permissions") {
    await renderPermissions(content, { target: bucketPath, kind: "bucket", bucketId, server });
  } else if (tab === "history") {
    await renderHistory(content, { bucketId });
  } else {
    const { data } = await request("GET", bucketPath);
    mount(content,
      jsonEditor({ id: "bucket-json", label: "Attributes (JSON)", value: editableData(data.data), save: async (value) => {
        await request("PUT", bucketPath, { body: { data: value }, headers: { "If-Match": `"${data.data.last_modified}"` } });
        flash("Bucket saved.");
      } }),
      deleteButton(bucketPath, `bucket ${bucketId}`, "#/"));
  }
}

/** Changing one's own account password; the session then uses the new one. */
function passwordChange(user) {
  const username = user.id.slice("account:".length);
  const password = h("input", { type: "password", id: "new-password", autocomplete: "new-password" });
  const button = h("button", { type: "submit" }, "Change my password");
  const form = h("form", { class: "card", "aria-label": "Change my password" },
    h("h2", {}, "Change my password"), field("New password", password), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(button, async () => {
      await request("PATCH", path("accounts", username), { body: { data: { password: password.value } } });
      saveSession({ ...currentSession(), authorization: basicAuthorization(username, password.value) });
      password.value = "";
      flash("Password changed.");
    });
  });
  return form;
}

export async function renderAccount({ main, server }) {
  const user = server.user;
  const session = currentSession();
  const ownAccount = session && session.kind === "accounts" && user.id.startsWith("account:");
  mount(main, h("h1", {}, "Who am I"),
    h("p", {}, "Share objects with you by giving this user id:"),
    h("pre", { id: "user-id" }, user.id),
    h("h2", {}, "Principals"),
    h("p", { class: "hint" }, "Permissions granted to any of these apply to you."),
    h("ul", { class: "principals", id: "user-principals" }, (user.principals || []).map((principal) => h("li", {}, h("code", {}, principal)))),
    user.bucket ? h("p", {}, "Your default bucket: ", h("a", { href: link("buckets", user.bucket) }, user.bucket)) : null,
    ownAccount ? passwordChange(user) : null);
}
