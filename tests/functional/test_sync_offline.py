"""An offline-first client, as kinto.js does it, on two devices of one user.

Each :class:`Device` keeps a local copy of the collection.  ``pull`` polls
``?_since=<last ETag>`` (following ``Next-Page``) and applies the changes and
tombstones; ``push`` sends local edits with ``If-Match`` (or ``If-None-Match: *``
for creations) and resolves 412 conflicts by merging onto the server's version
(``details.existing``) before retrying.  Whatever the interleaving, both devices
must end up with exactly the server's list.
"""

from __future__ import annotations

from typing import Any

import webtest

from tests.functional.helpers import ALICE

RECORDS = "/v1/buckets/b/collections/c/records"


class Device:
    def __init__(self, app: webtest.TestApp, name: str) -> None:
        self.app = app
        self.name = name
        self.local: dict[str, dict[str, Any]] = {}
        self.etag: str | None = None
        self.pending: dict[str, dict[str, Any] | None] = {}
        """Local edits not pushed yet: changed fields, or ``None`` for a deletion."""
        self.conflicts: list[str] = []

    # Local edits (offline).

    def create(self, record_id: str, **fields: Any) -> None:
        self.local[record_id] = {"id": record_id, **fields}
        self.pending[record_id] = dict(fields)

    def edit(self, record_id: str, **fields: Any) -> None:
        self.local[record_id].update(fields)
        self.pending[record_id] = {**(self.pending.get(record_id) or {}), **fields}

    def delete(self, record_id: str) -> None:
        self.pending[record_id] = None

    # Network.

    def pull(self, page_size: int = 2) -> int:
        """Apply the server's changes since the last pull; return how many."""
        headers = dict(ALICE)
        url = f"{RECORDS}?_limit={page_size}"
        if self.etag is not None:
            url += f"&_since={self.etag.strip(chr(34))}"
            headers["If-None-Match"] = self.etag
        response = self.app.get(url, headers=headers)
        if response.status_int == 304:
            return 0
        first_etag = response.headers["ETag"]
        changes = []
        while True:
            changes += response.json["data"]
            if "Next-Page" not in response.headers:
                break
            response = self.app.get(response.headers["Next-Page"], headers=ALICE)
        for change in changes:
            if change.get("deleted"):
                self.local.pop(change["id"], None)
            elif change["id"] not in self.pending:
                self.local[change["id"]] = change
        self.etag = first_etag
        return len(changes)

    def push(self) -> None:
        for record_id, fields in list(self.pending.items()):
            known = self.local.get(record_id, {}).get("last_modified")
            self._push_one(record_id, fields, known)
            del self.pending[record_id]

    def _push_one(self, record_id: str, fields: dict | None, known: int | None) -> None:
        url = f"{RECORDS}/{record_id}"
        condition = {"If-Match": f'"{known}"'} if known else {"If-None-Match": "*"}
        headers = {**ALICE, **condition}
        if fields is None:
            response = self.app.delete(url, headers=headers, expect_errors=True)
        else:
            body = {k: v for k, v in self.local[record_id].items() if k != "last_modified"}
            response = self.app.put_json(url, {"data": body}, headers=headers, expect_errors=True)
        if response.status_int == 412:
            self.conflicts.append(record_id)
            existing = response.json.get("details", {}).get("existing")
            if existing is None:
                # Deleted on the server meanwhile: the deletion wins.
                self.local.pop(record_id, None)
                return
            if fields is None:
                # We deleted what someone else changed: their change wins.
                self.local[record_id] = existing
                return
            # Merge: our changed fields on top of the server's version.
            self.local[record_id] = {**existing, **fields}
            self._push_one(record_id, fields, existing["last_modified"])
            return
        assert response.status_int in (200, 201), response
        if fields is not None:
            self.local[record_id] = response.json["data"]
        else:
            self.local.pop(record_id, None)


def server_state(app: webtest.TestApp) -> dict[str, dict[str, Any]]:
    return {obj["id"]: obj for obj in app.get(RECORDS, headers=ALICE).json["data"]}


def test_two_devices_converge_on_the_server_state(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    laptop, phone = Device(app, "laptop"), Device(app, "phone")

    laptop.create("milk", title="Milk", done=False)
    laptop.create("eggs", title="Eggs", done=False)
    laptop.create("tea", title="Tea", done=False)
    laptop.push()
    assert phone.pull() == 3
    assert phone.pull() == 0  # 304: nothing new

    # The laptop renames milk and deletes eggs.
    laptop.edit("milk", title="Oat milk")
    laptop.delete("eggs")
    laptop.push()

    # Meanwhile, offline, the phone ticks milk and eggs, edits tea, adds bread.
    phone.edit("milk", done=True)
    phone.edit("eggs", done=True)
    phone.edit("tea", done=True)
    phone.create("bread", title="Bread", done=False)
    phone.push()
    assert sorted(phone.conflicts) == ["eggs", "milk"]

    phone.pull()
    laptop.pull()
    server = server_state(app)
    assert sorted(server) == ["bread", "milk", "tea"]
    assert server["milk"]["title"] == "Oat milk"
    assert server["milk"]["done"] is True
    assert laptop.local == server
    assert phone.local == server


def test_a_deletion_pushed_over_a_newer_change_loses(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    laptop, phone = Device(app, "laptop"), Device(app, "phone")
    laptop.create("note", text="v1")
    laptop.push()
    phone.pull()
    laptop.edit("note", text="v2")
    laptop.push()
    phone.delete("note")
    phone.push()
    assert phone.conflicts == ["note"]
    assert phone.local["note"]["text"] == "v2"
    laptop.pull()
    phone.pull()
    assert laptop.local == phone.local == server_state(app)


def test_polling_sees_each_change_once_across_many_rounds(
    empty_collection: webtest.TestApp,
) -> None:
    app = empty_collection
    writer, reader = Device(app, "writer"), Device(app, "reader")
    total_seen = 0
    for round_number in range(5):
        for index in range(3):
            writer.create(f"r{round_number}-{index}", n=index)
        if round_number:
            writer.delete(f"r{round_number - 1}-0")
        writer.push()
        seen = reader.pull(page_size=2)
        # 3 creations, plus the tombstone of the previous round's first record.
        assert seen == (4 if round_number else 3)
        total_seen += seen
        assert reader.local == server_state(app)
    assert total_seen == 19
