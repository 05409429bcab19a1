// The Kinto HTTP API, as any client uses it: the UI holds no privilege, the
// server checks every request.

import { currentSession } from "./session.js";

/** The API root: the admin page is served at <root>/admin/. */
export const API_ROOT = new URL("../", window.location.href.split("#")[0]).href;

let pending = 0;

function setBusy(delta) {
  pending += delta;
  const indicator = document.getElementById("busy");
  if (indicator) indicator.hidden = pending === 0;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }

  /** The API's message, then its details (the invalid fields, the record...). */
  describe() {
    const parts = [this.message];
    const details = this.body.details;
    if (details !== undefined) {
      if (Array.isArray(details)) {
        for (const detail of details) {
          const text = typeof detail === "object" && detail !== null
            ? [detail.name, detail.description].filter(Boolean).join(": ")
            : String(detail);
          // Kinto's message often is the first detail already.
          if (!(detail && detail.description && this.message.includes(detail.description))) parts.push(text);
        }
      } else {
        parts.push(typeof details === "object" ? JSON.stringify(details) : String(details));
      }
    }
    if (this.status && !this.body.message) parts.push(`(HTTP ${this.status})`);
    return parts.join("\n");
  }
}

/** The path of an object: path("buckets", b, "collections", c) -> "buckets/b/collections/c". */
export function path(...segments) {
  return segments.map((segment) => encodeURIComponent(segment)).join("/");
}

/**
 * One request. `target` is a path under the API root or an absolute URL (the
 * Next-Page header). Answers {data, headers, status}.
 */
export async function request(method, target, { body, query, headers = {}, auth = true } = {}) {
  const url = new URL(target, API_ROOT);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  if (url.origin !== new URL(API_ROOT).origin) throw new Error("Refusing to send credentials to another origin.");
  const session = currentSession();
  const sent = { ...headers };
  if (auth && session) sent.Authorization = session.authorization;
  let payload;
  if (body !== undefined) {
    sent["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  setBusy(1);
  let response;
  try {
    response = await fetch(url, { method, headers: sent, body: payload, credentials: "omit", cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, { message: `The server could not be reached (${error.message}).` });
  } finally {
    setBusy(-1);
  }
  const text = await response.text();
  const now = currentSession();
  if ((response.status === 401 || response.status === 403) && sent.Authorization
      && now && now.authorization !== sent.Authorization) {
    // Refused credentials the session has replaced meanwhile (a password just
    // changed): the refusal is stale, and a refused request did nothing.
    return request(method, target, { body, query, headers, auth });
  }
  return answer(response.status, response.headers, text);
}

function answer(status, headers, text) {
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (status === 401 && currentSession()) {
    // The credentials stopped working (expired token, changed password).
    window.dispatchEvent(new CustomEvent("kinto-session-refused"));
  }
  if (status < 200 || status >= 300) throw new ApiError(status, data);
  return { data, headers, status };
}

/**
 * POST a multipart form (an attachment), reporting the upload's progress to
 * `onProgress(fraction)`: fetch() cannot tell how much of a body was sent.
 */
export function upload(target, formData, onProgress) {
  const url = new URL(target, API_ROOT);
  if (url.origin !== new URL(API_ROOT).origin) throw new Error("Refusing to send credentials to another origin.");
  const session = currentSession();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    if (session) xhr.setRequestHeader("Authorization", session.authorization);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      setBusy(-1);
      const headers = new Headers();
      for (const line of xhr.getAllResponseHeaders().trim().split(/\r?\n/)) {
        const at = line.indexOf(":");
        if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
      }
      try {
        resolve(answer(xhr.status, headers, xhr.responseText));
      } catch (error) {
        reject(error);
      }
    });
    xhr.addEventListener("error", () => {
      setBusy(-1);
      reject(new ApiError(0, { message: "The upload failed: the server could not be reached." }));
    });
    setBusy(1);
    xhr.send(formData);
  });
}

export const get = (target, options) => request("GET", target, options);

let serverCapabilities = {};

/** The server's hello: capabilities, settings and the user (when signed in). */
export async function hello(auth = true) {
  const data = (await get("", { auth })).data;
  serverCapabilities = data?.capabilities || {};
  return data;
}

/** Whether the server streams the changes of its lists (capability `live`). */
export function hasLiveChanges() {
  return "live" in serverCapabilities;
}

/**
 * Follow the changes of a list as server-sent events, read with fetch() (which,
 * unlike EventSource, sends the Authorization header; credentials never go in
 * URLs). Calls `onEvent(kind)` once the stream is open ("open": changes made
 * before it are not sent) and for each event ("change", "delete", "error");
 * returns when the stream ends or `signal` aborts it; throws if it is refused.
 */
export async function followChanges(target, onEvent, signal) {
  const url = new URL(target, API_ROOT);
  if (url.origin !== new URL(API_ROOT).origin) throw new Error("Refusing to send credentials to another origin.");
  const session = currentSession();
  const headers = { Accept: "text/event-stream" };
  if (session) headers.Authorization = session.authorization;
  const response = await fetch(url, { headers, credentials: "omit", cache: "no-store", signal });
  if (response.status !== 200) answer(response.status, response.headers, await response.text());
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  onEvent("open");
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    text += value;
    const blocks = text.split("\n\n");
    text = blocks.pop();
    for (const block of blocks) {
      const kind = block.split("\n").find((line) => line.startsWith("event:"));
      if (kind) onEvent(kind.slice("event:".length).trim());
    }
  }
}

/** One page of a list: {items, next, total}. */
export async function listPage(target, query) {
  const { data, headers } = await get(target, { query });
  return { items: data.data, next: headers.get("Next-Page") };
}

/** How many objects a list holds (with the same filters), from a HEAD request. */
export async function countObjects(target, query) {
  const { headers } = await request("HEAD", target, { query });
  const total = headers.get("Total-Objects") ?? headers.get("Total-Records");
  return total === null ? null : Number(total);
}

/** Every item of a list, following Next-Page (for small lists: groups...). */
export async function listAll(target, query = {}) {
  let page = await listPage(target, query);
  const items = [...page.items];
  while (page.next) {
    const { data, headers } = await get(page.next);
    items.push(...data.data);
    page = { next: headers.get("Next-Page") };
  }
  return items;
}
