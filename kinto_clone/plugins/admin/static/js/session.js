// Credentials live in this tab's sessionStorage only: closing the tab or
// signing out forgets them.

const KEY = "kinto-admin-session";

/** {kind: "basicauth"|"accounts"|"openid", authorization: "Basic ...", label} */
export function currentSession() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

export function saveSession(session) {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function forgetSession() {
  sessionStorage.removeItem(KEY);
}

export function basicAuthorization(username, password) {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}
