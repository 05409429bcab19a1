// One group: its members, permissions and history.

import { path, request } from "./api.js";
import { deleteButton, editableData, lines, link, tabs } from "./common.js";
import { field, flash, guarded, h, mount } from "./dom.js";
import { renderHistory } from "./history.js";
import { renderPermissions } from "./permissions.js";

export async function renderGroup({ main, query, server }, bucketId, groupId) {
  const tab = query.get("tab") || "members";
  const groupPath = path("buckets", bucketId, "groups", groupId);
  const entries = [["members", "Members"], ["permissions", "Permissions"]];
  if (server.capabilities.history) entries.push(["history", "History"]);
  const content = h("div");
  mount(main, h("h1", {}, `Group ${groupId}`), h("p", { class: "hint" }, "Principal of this group: ", h("code", {}, `/buckets/${bucketId}/groups/${groupId}`)),
    tabs(link("buckets", bucketId, "groups", groupId), tab, entries), content);
  if (tab === "members") {
    const { data } = await request("GET", groupPath);
    const group = data.data;
    const members = h("textarea", { id: "group-members", rows: 6, spellcheck: "false" });
    members.value = (group.members || []).join("\n");
    const button = h("button", { type: "submit" }, "Save members");
    const form = h("form", { "aria-label": "Members" }, field("Members (one principal per line)", members, "User ids such as account:alice, or system.Authenticated."), button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      guarded(button, async () => {
        const { data: saved } = await request("PUT", groupPath, { body: { data: { ...editableData(group), members: lines(members.value) } } });
        Object.assign(group, saved.data);
        flash("Members saved.");
      });
    });
    mount(content, form, h("h2", {}, "Danger zone"), deleteButton(groupPath, `group ${groupId}`, `${link("buckets", bucketId)}?tab=groups`));
  } else if (tab === "permissions") {
    await renderPermissions(content, { target: groupPath, kind: "group", bucketId, server });
  } else if (tab === "history") {
    await renderHistory(content, { bucketId, filters: { uri: `/buckets/${bucketId}/groups/${groupId}` } });
  }
}
