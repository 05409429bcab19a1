// Signing in with what the server offers (read from its capabilities): a
// username and password (Basic Auth or accounts), account sign-up, OpenID.

import { API_ROOT, hello, path, request } from "./api.js";
import { field, flash, guarded, h, mount } from "./dom.js";
import { basicAuthorization, forgetSession, saveSession } from "./session.js";

const OPENID_PENDING = "kinto-admin-openid-provider";
const TOKENS_PREFIX = "#tokens=";

/** The admin page itself, where OpenID tokens come back. */
function callbackUrl() {
  return `${window.location.href.split("#")[0]}${TOKENS_PREFIX}`;
}

/** Keep `session` if the server recognises it; throws otherwise. */
async function adopt(session) {
  saveSession(session);
  try {
    const server = await hello();
    if (!server.user || !server.user.id) throw new Error("Those credentials were not accepted by the server.");
    return server;
  } catch (error) {
    forgetSession();
    throw error;
  }
}

/**
 * Finish an OpenID login when the page was opened by the server's redirect
 * (`#tokens=<base64 JSON>` or `#tokens=error=...`). Answers whether it did.
 */
export async function completeOpenIdLogin(capabilities) {
  if (!window.location.hash.startsWith(TOKENS_PREFIX)) return false;
  const payload = window.location.hash.slice(TOKENS_PREFIX.length);
  history.replaceState(null, "", window.location.pathname + window.location.search + "#/");
  const providerName = sessionStorage.getItem(OPENID_PENDING);
  sessionStorage.removeItem(OPENID_PENDING);
  if (payload.startsWith("error=")) {
    const answer = new URLSearchParams(payload);
    throw new Error(`OpenID sign-in failed: ${answer.get("error")} ${answer.get("error_description") || ""}`.trim());
  }
  const tokens = JSON.parse(atob(decodeURIComponent(payload)));
  if (!tokens.access_token) throw new Error("OpenID sign-in failed: no access token came back.");
  const providers = (capabilities.openid && capabilities.openid.providers) || [];
  const provider = providers.find((p) => p.name === providerName) || providers[0];
  const headerType = (provider && provider.header_type) || "Bearer";
  await adopt({
    kind: "openid",
    label: `OpenID (${provider ? provider.name : "?"})`,
    authorization: `${headerType} ${tokens.access_token}`,
  });
  return true;
}

function passwordForm({ title, submitLabel, onSubmit, idPrefix }) {
  const username = h("input", { type: "text", name: "username", id: `${idPrefix}-username`, autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", id: `${idPrefix}-password`, autocomplete: idPrefix === "signup" ? "new-password" : "current-password", required: true });
  const button = h("button", { type: "submit" }, submitLabel);
  const form = h("form", { class: "card", "aria-labelledby": `${idPrefix}-title` },
    h("h2", { id: `${idPrefix}-title` }, title),
    field("Username", username),
    field("Password", password),
    button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(button, () => onSubmit(username.value.trim(), password.value));
  });
  return form;
}

/** The sign-in screen; `onSignedIn(hello)` is called once the server accepts the user. */
export function renderSignIn(main, server, onSignedIn) {
  const capabilities = server.capabilities || {};
  const forms = [];
  const signInWith = async (username, password, kind) => {
    const label = kind === "accounts" ? `account ${username}` : username;
    const answer = await adopt({ kind, label, authorization: basicAuthorization(username, password) });
    onSignedIn(answer);
  };
  if (capabilities.accounts) {
    forms.push(passwordForm({
      title: "Sign in with an account",
      submitLabel: "Sign in",
      idPrefix: "signin",
      onSubmit: (username, password) => signInWith(username, password, "accounts"),
    }));
    forms.push(passwordForm({
      title: "Create an account",
      submitLabel: "Sign up",
      idPrefix: "signup",
      onSubmit: async (username, password) => {
        await request("PUT", path("accounts", username), { body: { data: { password } }, auth: false });
        flash(`Account ${username} created.`);
        await signInWith(username, password, "accounts");
      },
    }));
  } else {
    forms.push(passwordForm({
      title: "Sign in (Basic Auth)",
      submitLabel: "Sign in",
      idPrefix: "signin",
      onSubmit: (username, password) => signInWith(username, password, "basicauth"),
    }));
  }
  const providers = (capabilities.openid && capabilities.openid.providers) || [];
  if (providers.length) {
    forms.push(h("div", { class: "card" },
      h("h2", {}, "Sign in with OpenID Connect"),
      providers.map((provider) => h("button", {
        type: "button",
        onclick: () => {
          sessionStorage.setItem(OPENID_PENDING, provider.name);
          const login = new URL(path("openid", provider.name, "login"), API_ROOT);
          login.searchParams.set("callback", callbackUrl());
          login.searchParams.set("scope", "openid email");
          window.location.assign(login.href);
        },
      }, `Sign in with ${provider.name}`))));
  }
  mount(main,
    h("h1", {}, "Sign in"),
    h("p", { class: "hint" }, `Server: ${API_ROOT} (Kinto API ${server.http_api_version || "?"})`),
    forms);
  const first = main.querySelector("input");
  if (first) first.focus();
}

