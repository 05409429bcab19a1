// Entry point: signs the user in, then routes `#/buckets/...` hashes to views.

import { hello } from "./api.js";
import { flash, flashError, h, mount } from "./dom.js";
import { currentSession, forgetSession } from "./session.js";
import { completeOpenIdLogin, renderSignIn } from "./signin.js";
import { renderAccount, renderBucket, renderBuckets } from "./buckets.js";
import { renderCollection } from "./collection.js";
import { renderGroup } from "./group.js";
import { renderRecord } from "./record.js";

const main = document.getElementById("main");
const state = { server: null, routeId: 0 };

/** Parse `#/buckets/b/collections/c?tab=x` into segments and a query. */
function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [pathPart, queryPart] = raw.split("?");
  const segments = pathPart ? pathPart.split("/").filter(Boolean).map(decodeURIComponent) : [];
  return { segments, query: new URLSearchParams(queryPart || "") };
}

function renderCrumbs(segments) {
  const crumbs = [h("a", { href: "#/" }, "Buckets")];
  let href = "#";
  for (let i = 0; i + 1 < segments.length; i += 2) {
    href += `/${encodeURIComponent(segments[i])}/${encodeURIComponent(segments[i + 1])}`;
    crumbs.push(h("span", { "aria-hidden": "true" }, "›"), h("a", { href }, segments[i + 1]));
  }
  mount(document.getElementById("crumbs"), crumbs);
}

function renderWhoami() {
  const box = document.getElementById("whoami");
  const session = currentSession();
  if (!session || !state.server || !state.server.user) {
    mount(box);
    return;
  }
  mount(box,
    h("a", { href: "#/account", title: state.server.user.id }, session.label),
    h("button", { type: "button", class: "secondary", id: "signout", onclick: signOut }, "Sign out"));
}

function signOut() {
  forgetSession();
  state.server = null;
  flash("Signed out.");
  window.location.hash = "#/";
  start();
}

const ROUTES = [
  [[], (ctx) => renderBuckets(ctx)],
  [["account"], (ctx) => renderAccount(ctx)],
  [["buckets", "*"], (ctx, [, bid]) => renderBucket(ctx, bid)],
  [["buckets", "*", "collections", "*"], (ctx, [, bid, , cid]) => renderCollection(ctx, bid, cid)],
  [["buckets", "*", "groups", "*"], (ctx, [, bid, , gid]) => renderGroup(ctx, bid, gid)],
  [["buckets", "*", "collections", "*", "records", "*"], (ctx, [, bid, , cid, , rid]) => renderRecord(ctx, bid, cid, rid)],
];

function matchRoute(segments) {
  for (const [pattern, view] of ROUTES) {
    if (pattern.length === segments.length && pattern.every((part, i) => part === "*" || part === segments[i])) return view;
  }
  return null;
}

async function route() {
  if (!state.server || !state.server.user) return;
  const routeId = ++state.routeId;
  const { segments, query } = parseHash();
  renderCrumbs(segments);
  renderWhoami();
  const view = matchRoute(segments);
  // Each view renders into its own element: a slow answer for a page left
  // meanwhile lands in a detached element, never over the current page.
  const root = h("div");
  mount(main, root);
  const ctx = {
    main: root,
    server: state.server,
    query,
    /** Whether this view is still the one shown (answers may come late). */
    isCurrent: () => routeId === state.routeId,
    refresh: () => route(),
  };
  if (!view) {
    mount(root, h("h1", {}, "Not found"), h("p", {}, "This page does not exist. "), h("a", { href: "#/" }, "Back to the buckets"));
    return;
  }
  mount(root, h("p", {}, "Loading…"));
  try {
    await view(ctx, segments);
  } catch (error) {
    if (!ctx.isCurrent()) return;
    mount(root, h("h1", {}, "Could not load this page"), h("pre", { class: "error" }, error.describe ? error.describe() : String(error)));
    flashError(error);
  }
}

async function start() {
  renderWhoami();
  mount(document.getElementById("crumbs"));
  try {
    const anonymous = await hello(false);
    if (await completeOpenIdLogin(anonymous.capabilities || {}).catch((error) => { flashError(error); return false; })) {
      flash("Signed in.");
    }
    if (currentSession()) {
      const server = await hello();
      if (server.user) {
        state.server = server;
        return route();
      }
      forgetSession();
      flash("Your session expired: please sign in again.", "error");
    }
    renderSignIn(main, anonymous, (server) => {
      state.server = server;
      flash(`Signed in as ${server.user.id}.`);
      if (!window.location.hash || window.location.hash.startsWith("#tokens")) window.location.hash = "#/";
      route();
    });
  } catch (error) {
    mount(main, h("h1", {}, "The server could not be reached"), h("pre", {}, error.describe ? error.describe() : String(error)));
  }
}

window.addEventListener("kinto-session-refused", () => {
  if (!currentSession()) return;
  forgetSession();
  state.server = null;
  flash("The server refused your credentials (expired or changed): please sign in again.", "error");
  start();
});
window.addEventListener("hashchange", () => {
  route().then(() => main.focus({ preventScroll: true }));
});
start();
