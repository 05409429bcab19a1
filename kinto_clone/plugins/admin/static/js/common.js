// Pieces shared by the object pages: tabs, JSON editors, deletion.

import { request } from "./api.js";
import { flash, guarded, h } from "./dom.js";

/** The page of an object: link("buckets", "b") -> "#/buckets/b". */
export function link(...segments) {
  return `#/${segments.map(encodeURIComponent).join("/")}`;
}

/** Tabs as links: `#<base>?tab=<key>`; the current one is marked for screen readers. */
export function tabs(base, current, entries) {
  return h("ul", { class: "tabs" }, entries.map(([key, label]) => h("li", {},
    h("a", { href: `${base}?tab=${key}`, "aria-current": key === current ? "page" : null }, label))));
}

/** The attributes of an object other than the ones the server manages. */
export function editableData(data) {
  const copy = { ...data };
  delete copy.id;
  delete copy.last_modified;
  return copy;
}

/** A JSON text area with a Save button calling `save(parsedValue)`. */
export function jsonEditor({ id, label, value, save, saveLabel = "Save" }) {
  const area = h("textarea", { id, class: "json", spellcheck: "false" });
  area.value = JSON.stringify(value, null, 2);
  const button = h("button", { type: "submit" }, saveLabel);
  const form = h("form", {}, h("label", { for: id }, label), area, h("div", {}, button));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(button, async () => {
      let parsed;
      try {
        parsed = JSON.parse(area.value);
      } catch (error) {
        throw new Error(`Invalid JSON: ${error.message}`);
      }
      await save(parsed);
    });
  });
  return form;
}

/** A Delete button, confirmed, that then goes to `then` (a hash). */
export function deleteButton(target, what, then) {
  const button = h("button", { type: "button", class: "danger" }, `Delete ${what}`);
  button.addEventListener("click", () => {
    if (!window.confirm(`Delete ${what}? This cannot be undone.`)) return;
    guarded(button, async () => {
      await request("DELETE", target);
      window.location.hash = then;
      flash(`Deleted ${what}.`);
    });
  });
  return button;
}

/** Split a text area of one value per line (or comma) into a list. */
export function lines(text) {
  return text.split(/[\n,]/).map((line) => line.trim()).filter(Boolean);
}
