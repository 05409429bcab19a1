// A real OpenID Connect provider (the `oidc-provider` package) for the tests of
// the OpenID plugin, on loopback only.
//
//   node provider.js PORT
//
// One confidential client, `kinto` / `kinto-secret`, authenticating at the token
// endpoint with `client_secret_post` (what Kinto does).  It may come back to the
// token endpoint of any Kinto server on loopback (`http://127.0.0.1:<port>/v1/
// openid/<provider>/token`, `localhost` too): the tests' servers take free ports.  Any login name is an account: its `sub` is the name,
// its email `<name>@example.com`.  The development interactions (login form,
// consent form) stand in for a real sign-in page; the tests post them.
// Prints `listening <issuer>` once it accepts connections; stops on SIGTERM.

import Provider from "oidc-provider";

const [port] = process.argv.slice(2);
if (!port) {
  console.error("usage: node provider.js PORT");
  process.exit(2);
}
const LOOPBACK_TOKEN_ENDPOINT = /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/v1\/openid\/[\w-]+\/token$/;
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "kinto",
      client_secret: "kinto-secret",
      redirect_uris: ["http://localhost/v1/openid/oidc/token"],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    },
  ],
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: `${sub}@example.com`, email_verified: true, name: sub };
      },
    };
  },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name"],
  },
  features: { devInteractions: { enabled: true } },
  // Signed cookies of the interaction sessions: a fixed key is fine for tests.
  cookies: { keys: ["kinto-clone-tests-only"] },
});
// Loopback over plain HTTP: tell the provider not to expect a TLS proxy.
provider.proxy = false;
provider.Client.prototype.redirectUriAllowed = (uri) => LOOPBACK_TOKEN_ENDPOINT.test(uri);

const server = provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`listening ${issuer}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
