// Building the page from data: text is always set as text (never parsed as
// markup) and links only ever point to http(s) or to this page.

const SAFE_URL = /^(https?:|#|\/|\.\/|\.\.\/)/i;

/** Whether `url` may be followed from a link: no `javascript:`, `data:`... */
export function isSafeUrl(url) {
  return typeof url === "string" && SAFE_URL.test(url.trim()) && !/^\s*\/\//.test(url);
}

/**
 * h("a", {href: "#/x", class: "y", onclick: fn}, "text", child...)
 * Attributes go through setAttribute (href only when safe), events through
 * addEventListener, children as text nodes or elements.
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "href" || name === "src") {
      if (isSafeUrl(String(value))) element.setAttribute(name, String(value));
    } else if (name === "value") {
      element.value = value;
    } else if (name === "checked") {
      element.checked = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the content of `element` with `children`. */
export function mount(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A value shown in a table cell: strings as they are, anything else as JSON. */
export function display(value) {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

export function formatDate(timestamp) {
  if (!timestamp) return "";
  return new Date(timestamp).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

let flashTimer = null;

/** A message at the top of the page; errors stay until the next action. */
export function flash(message, kind = "info") {
  const box = document.getElementById("flash");
  clearTimeout(flashTimer);
  box.className = kind;
  box.textContent = message || "";
  if (message && kind === "info") flashTimer = setTimeout(() => flash(""), 5000);
}

/** Show an error of the API (its message and details) or of the browser. */
export function flashError(error) {
  flash(error && error.describe ? error.describe() : String(error && error.message || error), "error");
}

/** Run `action` with `button` disabled meanwhile; its errors are shown. */
export async function guarded(button, action) {
  if (button) button.disabled = true;
  flash("");
  try {
    return await action();
  } catch (error) {
    flashError(error);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function field(labelText, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h("div", {}, h("label", { for: id }, labelText), input, hint ? h("p", { class: "hint" }, hint) : null);
}
