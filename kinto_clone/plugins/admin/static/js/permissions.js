// The permissions of an object: one list of principals per permission, and
// hints of the principals one can share with (groups, system.*, oneself).

import { get, listAll, path, request } from "./api.js";
import { flash, guarded, h, mount } from "./dom.js";
import { lines } from "./common.js";

export const PERMISSIONS = {
  bucket: ["read", "write", "collection:create", "group:create"],
  collection: ["read", "write", "record:create"],
  group: ["read", "write"],
  record: ["read", "write"],
};

/** Render the permissions of the object at `target` (a `kind` of bucket `bucketId`). */
export async function renderPermissions(container, { target, kind, bucketId, server }) {
  const [{ data: object }, groups] = await Promise.all([
    get(target),
    listAll(path("buckets", bucketId, "groups")).catch(() => []),
  ]);
  const current = object.permissions || {};
  const suggestions = ["system.Everyone", "system.Authenticated", server.user.id,
    ...groups.map((group) => `/buckets/${bucketId}/groups/${group.id}`)];
  const datalist = h("datalist", { id: "principal-suggestions" }, suggestions.map((value) => h("option", { value })));
  const areas = {};
  const fields = PERMISSIONS[kind].map((permission) => {
    const id = `perm-${permission.replace(":", "-")}`;
    const area = h("textarea", { id, rows: 3, spellcheck: "false" });
    area.value = (current[permission] || []).join("\n");
    areas[permission] = area;
    return h("div", {}, h("label", { for: id }, permission), area);
  });
  const adder = h("input", { type: "text", id: "perm-add-principal", list: "principal-suggestions", placeholder: "principal, e.g. /buckets/b/groups/g" });
  const which = h("select", { id: "perm-add-permission" }, PERMISSIONS[kind].map((permission) => h("option", { value: permission }, permission)));
  const addButton = h("button", { type: "button", class: "secondary", onclick: () => {
    const principal = adder.value.trim();
    if (!principal) return;
    const area = areas[which.value];
    if (!lines(area.value).includes(principal)) area.value = [...lines(area.value), principal].join("\n");
    adder.value = "";
  } }, "Add principal");
  const save = h("button", { type: "submit" }, "Save permissions");
  const form = h("form", { "aria-label": "Permissions" },
    h("p", { class: "hint" }, "One principal per line: a user id, system.Everyone, system.Authenticated, or a group as /buckets/<bucket>/groups/<group>. Inherited permissions (from parents) are not listed."),
    h("div", { class: "filters" },
      h("div", {}, h("label", { for: adder.id }, "Principal"), adder, datalist),
      h("div", {}, h("label", { for: which.id }, "Permission"), which),
      h("div", {}, addButton)),
    fields, save);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(save, async () => {
      const permissions = {};
      for (const [permission, area] of Object.entries(areas)) permissions[permission] = lines(area.value);
      await request("PATCH", target, { body: { permissions } });
      flash("Permissions saved.");
    });
  });
  mount(container, form);
}
