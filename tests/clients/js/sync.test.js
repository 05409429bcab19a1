// kinto.js (offline-first client) and kinto-http.js, unchanged, against a running server.
//
// Run by tests/clients/test_kinto_js.py:
//   KINTO_SERVER_URL=http://127.0.0.1:<port>/v1 KINTO_PAGINATE_BY=50 node --test sync.test.js
// The server must accept Basic Auth (any credentials), serve the default bucket and
// paginate lists by KINTO_PAGINATE_BY records.  Every name is made unique per run,
// so the script can also be pointed at a reference Kinto to check the script itself.
// package.json pins the clients, fake-indexeddb, and the peer dependencies of
// kinto-http.js's Node build (node-fetch 2, form-data, atob).
"use strict";

require("fake-indexeddb/auto"); // the IndexedDB of the "devices", in memory

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { randomUUID } = require("node:crypto");

// Every HTTP request of both libraries goes through the global fetch(): log them,
// to check that sync() followed the Next-Page links.
const requested = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (url, options = {}) => {
  requested.push({ method: options.method || "GET", url: String(url) });
  return realFetch(url, options);
};

const Kinto = require("kinto").default;
const KintoClient = require("kinto-http").default;

const REMOTE = process.env.KINTO_SERVER_URL;
const PAGINATE_BY = Number(process.env.KINTO_PAGINATE_BY || "50");
assert.ok(REMOTE, "KINTO_SERVER_URL must be set (e.g. http://127.0.0.1:8888/v1)");

const RUN = randomUUID().slice(0, 8);

function basicAuth(user, password) {
  const token = Buffer.from(`${user}:${password}`).toString("base64");
  return { Authorization: `Basic ${token}` };
}

/** One device of a user: its own local database, the user's credentials. */
function device(name, user) {
  return new Kinto({
    remote: REMOTE,
    headers: basicAuth(...user),
    adapterOptions: { dbName: `${RUN}-${name}` },
    timeout: 30000,
  });
}

function httpClient(user) {
  return new KintoClient(REMOTE, { headers: basicAuth(...user), timeout: 30000 });
}

function byId(a, b) {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Local records of a device, without the local-only `_status` field (all synced). */
async function localRecords(collection) {
  const { data } = await collection.list({}, { includeDeleted: true });
  for (const record of data) {
    assert.equal(record._status, "synced", `record ${record.id} not synced: ${record._status}`);
  }
  return data.map(({ _status, ...fields }) => fields).sort(byId);
}

async function serverRecords(client, bucket, collection) {
  const { data } = await client
    .bucket(bucket)
    .collection(collection)
    .listRecords({ pages: Infinity, sort: "id" });
  return data.sort(byId);
}

async function syncOk(collection) {
  const result = await collection.sync();
  assert.equal(result.ok, true, `sync failed: ${JSON.stringify(result, null, 1)}`);
  assert.deepEqual(result.conflicts, []);
  assert.deepEqual(result.errors, []);
  return result;
}

test("two devices of one user edit offline and converge through sync()", async () => {
  const user = [`user-${RUN}`, "password"];
  const name = `tasks-${RUN}`;
  const laptop = device("laptop", user).collection(name);
  const phone = device("phone", user).collection(name);

  // Offline on the laptop: three new tasks.
  const { data: first } = await laptop.create({ title: "write", done: false });
  const { data: second } = await laptop.create({ title: "review", done: false, tags: ["a"] });
  const { data: third } = await laptop.create({ title: "ship", done: false, n: 1.5 });
  let result = await syncOk(laptop);
  assert.equal(result.published.length, 3);

  // The phone pulls them, and adds one of its own while offline.
  const { data: fourth } = await phone.create({ title: "call", nested: { a: [1, { b: null }] } });
  result = await syncOk(phone);
  assert.deepEqual(result.created.map((r) => r.id).sort(), [first.id, second.id, third.id].sort());
  assert.equal(result.published.length, 1);

  // Both edit and delete offline, different records.
  await laptop.update({ ...first, done: true });
  await laptop.delete(second.id);
  await phone.sync(); // gets nothing new: the laptop has not synced yet
  const { data: phoneThird } = await phone.get(third.id);
  await phone.update({ ...phoneThird, title: "ship it", n: 2 });
  await phone.delete(fourth.id);
  const { data: fifth } = await phone.create({ title: "celebrate" });

  await syncOk(laptop);
  result = await syncOk(phone);
  assert.deepEqual(result.updated.map((r) => r.new.id), [first.id]);
  assert.deepEqual(result.deleted.map((r) => r.id), [second.id]);
  result = await syncOk(laptop);
  assert.deepEqual(result.updated.map((r) => r.new.id), [third.id]);
  assert.deepEqual(result.deleted.map((r) => r.id), [fourth.id]);
  assert.deepEqual(result.created.map((r) => r.id), [fifth.id]);

  // Both devices hold exactly the server's records, field by field.
  const server = await serverRecords(httpClient(user), "default", name);
  assert.deepEqual(
    server.map((r) => r.id),
    [first.id, third.id, fifth.id].sort()
  );
  assert.deepEqual(await localRecords(laptop), server);
  assert.deepEqual(await localRecords(phone), server);
  const byKey = Object.fromEntries(server.map((r) => [r.id, r]));
  assert.equal(byKey[first.id].done, true);
  assert.deepEqual(
    { title: byKey[third.id].title, n: byKey[third.id].n },
    { title: "ship it", n: 2 }
  );

  // Deletions: gone from both devices, tombstones on the server.
  for (const collection of [laptop, phone]) {
    for (const id of [second.id, fourth.id]) {
      assert.equal((await collection.getAny(id)).data, undefined);
    }
  }
  const { data: changes } = await httpClient(user)
    .bucket("default")
    .collection(name)
    .listRecords({ since: "0", pages: Infinity });
  const tombstones = changes.filter((r) => r.deleted).map((r) => r.id).sort();
  assert.deepEqual(tombstones, [second.id, fourth.id].sort());
});

test("a conflicting edit is reported by sync() and settled with resolve()", async () => {
  const user = [`user-${RUN}`, "password"];
  const name = `notes-${RUN}`;
  const laptop = device("laptop-c", user).collection(name);
  const phone = device("phone-c", user).collection(name);

  const { data: note } = await laptop.create({ text: "original", color: "blue" });
  await syncOk(laptop);
  await syncOk(phone);

  const { data: onLaptop } = await laptop.get(note.id);
  await laptop.update({ ...onLaptop, text: "from the laptop" });
  await syncOk(laptop);

  const { data: onPhone } = await phone.get(note.id);
  await phone.update({ ...onPhone, text: "from the phone", color: "red" });
  const result = await phone.sync();
  assert.equal(result.ok, false);
  assert.equal(result.conflicts.length, 1);
  const [conflict] = result.conflicts;
  assert.equal(conflict.local.id, note.id);
  assert.equal(conflict.local.text, "from the phone");
  assert.equal(conflict.remote.text, "from the laptop");
  assert.equal(conflict.remote.color, "blue");

  // Merge: the laptop's text, the phone's color.
  await phone.resolve(conflict, { ...conflict.local, text: conflict.remote.text });
  let after = await syncOk(phone);
  assert.equal(after.published.length, 1);
  after = await syncOk(laptop);
  assert.deepEqual(after.updated.map((r) => r.new.id), [note.id]);

  const server = await serverRecords(httpClient(user), "default", name);
  assert.equal(server.length, 1);
  assert.equal(server[0].text, "from the laptop");
  assert.equal(server[0].color, "red");
  assert.deepEqual(await localRecords(laptop), server);
  assert.deepEqual(await localRecords(phone), server);
});

test("a collection of more than 200 records syncs across Next-Page pages", async () => {
  const user = [`user-${RUN}`, "password"];
  const name = `many-${RUN}`;
  const count = 4 * PAGINATE_BY + 17;
  assert.ok(count > 200);
  const writer = device("writer", user).collection(name);
  for (let i = 0; i < count; i++) {
    await writer.create({ rank: i, label: `item ${i}` });
  }
  const pushed = await syncOk(writer);
  assert.equal(pushed.published.length, count);

  const reader = device("reader", user).collection(name);
  const before = requested.length;
  const pulled = await syncOk(reader);
  assert.equal(pulled.created.length, count);
  const pages = requested
    .slice(before)
    .filter((r) => r.method === "GET" && r.url.includes(`/collections/${name}/records`));
  assert.equal(pages.length, Math.ceil(count / PAGINATE_BY));
  assert.ok(pages.slice(1).every((r) => r.url.includes("_token=")), JSON.stringify(pages));

  const server = await serverRecords(httpClient(user), "default", name);
  assert.equal(server.length, count);
  assert.deepEqual(await localRecords(reader), server);
  assert.deepEqual(await localRecords(writer), server);
  assert.deepEqual(
    server.map((r) => r.rank).sort((a, b) => a - b),
    Array.from({ length: count }, (_, i) => i)
  );
});

test("a second user reads a record shared with a group", async () => {
  const alice = httpClient([`alice-${RUN}`, "alicepassword"]);
  const bob = httpClient([`bob-${RUN}`, "bobpassword"]);
  const eve = httpClient([`eve-${RUN}`, "evepassword"]);
  const bobId = (await bob.fetchUser()).id;
  assert.match(bobId, /^basicauth:[0-9a-f]{64}$/);

  const bucketId = `shared-${RUN}`;
  await alice.createBucket(bucketId);
  const bucket = alice.bucket(bucketId);
  const { data: group } = await bucket.createGroup("friends", [bobId]);
  assert.deepEqual(group.members, [bobId]);
  await bucket.createCollection("notes");
  const notes = bucket.collection("notes");
  const { data: secret } = await notes.createRecord({ text: "for my friends" });
  const { data: other } = await notes.createRecord({ text: "not shared" });

  const bobNotes = bob.bucket(bucketId).collection("notes");
  await assert.rejects(bobNotes.getRecord(secret.id), /HTTP 403/);

  const groupUri = `/buckets/${bucketId}/groups/friends`;
  const { permissions } = await notes.updateRecord(secret, {
    permissions: { read: [groupUri] },
    patch: true,
  });
  assert.deepEqual(permissions.read, [groupUri]);

  const { data: seen } = await bobNotes.getRecord(secret.id);
  assert.deepEqual(seen, (await notes.getRecord(secret.id)).data);
  const { data: listed } = await bobNotes.listRecords();
  assert.deepEqual(listed.map((r) => r.id), [secret.id]);
  await assert.rejects(bobNotes.getRecord(other.id), /HTTP 403/);
  await assert.rejects(bobNotes.updateRecord({ ...seen, text: "edited" }), /HTTP 403/);
  await assert.rejects(eve.bucket(bucketId).collection("notes").getRecord(secret.id), /HTTP 403/);
});

test("a batch of mixed outcomes reports each sub-request", async () => {
  const alice = httpClient([`alice-${RUN}`, "alicepassword"]);
  const bob = httpClient([`bob-${RUN}`, "bobpassword"]);
  const bucketId = `mixed-${RUN}`;
  await alice.createBucket(bucketId);
  await alice.bucket(bucketId).createCollection("items");
  await alice.bucket(bucketId).collection("items").createRecord({ id: "existing", v: 0 });
  const bobBucket = `bob-${RUN}`;
  await bob.createBucket(bobBucket);
  await bob.bucket(bobBucket).createCollection("private");

  const describe = (batch) => {
    const items = batch.bucket(bucketId).collection("items");
    items.createRecord({ id: "fresh", v: 1 }); // created
    items.createRecord({ id: "existing", v: 2 }, { safe: true }); // If-None-Match: *
    items.getRecord("missing"); // unknown
    batch.bucket(bobBucket).collection("private").createRecord({ v: 3 }); // not allowed
    items.createRecord({ id: "bad id!", v: 4 }); // invalid id
    items.updateRecord({ id: "existing", v: 5 }); // overwritten
  };

  const responses = await alice.batch(describe);
  assert.deepEqual(
    responses.map((r) => r.status),
    [201, 412, 404, 403, 400, 200]
  );
  assert.equal(responses[0].body.data.v, 1);
  assert.equal(responses[1].body.errno, 114);
  assert.equal(responses[2].body.errno, 110);
  assert.equal(responses[3].body.errno, 121);
  assert.equal(responses[4].body.errno, 107);
  assert.equal(responses[5].body.data.v, 5);
  for (const response of responses) {
    assert.ok(response.path.startsWith("/v1/buckets/"), response.path);
  }

  // The same requests, aggregated the way kinto-http.js sorts them.
  await alice.bucket(bucketId).collection("items").deleteRecord("fresh");
  const aggregated = await alice.batch(describe, { aggregate: true });
  assert.deepEqual(
    aggregated.published.map((body) => [body.data.id, body.data.v]),
    [
      ["fresh", 1],
      ["existing", 5],
    ]
  );
  assert.equal(aggregated.conflicts.length, 1);
  assert.equal(aggregated.conflicts[0].remote.v, 5);
  assert.deepEqual(
    aggregated.skipped.map((s) => s.id),
    ["missing"]
  );
  assert.deepEqual(
    aggregated.errors.map((e) => e.error.code),
    [403, 400]
  );

  const { data } = await alice.bucket(bucketId).collection("items").listRecords({ sort: "id" });
  assert.deepEqual(
    data.map((r) => [r.id, r.v]),
    [
      ["existing", 5],
      ["fresh", 1],
    ]
  );
});
