// Live changes with kinto.js 17.1.1: device B listens to the server's event stream
// (read with fetch(), which, unlike EventSource, can send an Authorization header)
// and syncs on each event; device A's new record must reach B's local database
// less than a second after A's sync() returns.
//
// Run by tests/clients/test_kinto_js.py:
//   KINTO_SERVER_URL=http://127.0.0.1:<port>/v1 node --test live.test.js
"use strict";

require("fake-indexeddb/auto");

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { randomUUID } = require("node:crypto");

const Kinto = require("kinto").default;

const REMOTE = process.env.KINTO_SERVER_URL;
assert.ok(REMOTE, "KINTO_SERVER_URL must be set (e.g. http://127.0.0.1:8888/v1)");
const RUN = randomUUID().slice(0, 8);

function basicAuth(user, password) {
  const token = Buffer.from(`${user}:${password}`).toString("base64");
  return { Authorization: `Basic ${token}` };
}

function device(name, user, collection) {
  const kinto = new Kinto({
    remote: REMOTE,
    headers: basicAuth(...user),
    adapterOptions: { dbName: `${RUN}-${name}` },
    timeout: 30000,
  });
  return kinto.collection(collection);
}

/** Calls onEvent(event) for each event of the stream at url, until abort. */
async function listen(url, headers, onEvent, signal) {
  const response = await fetch(url, {
    headers: { ...headers, Accept: "text/event-stream" },
    signal,
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /^text\/event-stream/);
  const decoder = new TextDecoder();
  let pending = "";
  const reader = response.body.getReader();
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        pending += decoder.decode(value, { stream: true });
        const blocks = pending.split("\n\n");
        pending = blocks.pop();
        for (const block of blocks) {
          const fields = {};
          for (const line of block.split("\n")) {
            if (!line || line.startsWith(":")) continue;
            const at = line.indexOf(":");
            fields[line.slice(0, at)] = line.slice(at + 1).replace(/^ /, "");
          }
          if (fields.data !== undefined) onEvent(fields);
        }
      }
    } catch (error) {
      if (error.name !== "AbortError") throw error;
    }
  })();
}

test("device B's stream listener syncs A's new record within a second", async () => {
  const user = [`live-${RUN}`, "secret"];
  const name = `live-${RUN}`;
  const a = device("a", user, name);
  const b = device("b", user, name);
  await a.sync(); // Creates the default bucket and the collection.
  await b.sync();

  let syncing = Promise.resolve();
  const received = [];
  const abort = new AbortController();
  const url = `${REMOTE}/buckets/default/collections/${name}/records`;
  await listen(
    url,
    basicAuth(...user),
    (event) => {
      received.push(event);
      syncing = syncing.then(() => b.sync());
    },
    abort.signal,
  );

  try {
    const { data: created } = await a.create({ title: "from A" });
    const result = await a.sync();
    assert.equal(result.ok, true);
    const synced = Date.now();
    let found = null;
    while (Date.now() - synced < 2000) {
      const { data } = await b.list();
      found = data.find((record) => record.id === created.id);
      if (found) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const elapsed = Date.now() - synced;
    assert.ok(found, "B never got A's record");
    assert.equal(found.title, "from A");
    assert.ok(elapsed < 1000, `B got A's record ${elapsed} ms after A's sync`);
    assert.equal(received[0].event, "change");
    assert.equal(JSON.parse(received[0].data).id, created.id);
  } finally {
    abort.abort();
    await syncing.catch(() => {});
  }
});
