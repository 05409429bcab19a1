"""Behaviour every cache backend must share, as a pytest base class.

Subclass :class:`CacheContract` and override the ``cache`` fixture (the backend
under test, without prefix) and ``prefixed_cache`` (a second instance on the same
storage, built with the given prefix).  The contract flushes around each test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from kinto_clone.core import transaction
from kinto_clone.core.cache import CacheBase


class Boom(Exception):
    """Raised inside a transaction to make it roll back."""


class CacheContract:
    @pytest.fixture
    def cache(self) -> CacheBase:
        raise NotImplementedError("override the `cache` fixture")

    @pytest.fixture
    def prefixed_cache(self, cache: CacheBase) -> Callable[[str], CacheBase]:
        raise NotImplementedError("override the `prefixed_cache` fixture")

    @pytest.fixture(autouse=True)
    def _flushed(self, cache: CacheBase) -> Iterator[None]:
        cache.flush()
        yield
        cache.flush()

    # Housekeeping.

    def test_initialize_schema_is_idempotent(self, cache: CacheBase) -> None:
        cache.initialize_schema()
        cache.initialize_schema()
        cache.set("key", "value", 10)
        assert cache.get("key") == "value"

    def test_healthcheck_is_true_when_available(self, cache: CacheBase) -> None:
        assert cache.healthcheck() is True

    def test_flush_removes_everything(self, cache: CacheBase) -> None:
        cache.set("a", 1, 10)
        cache.set("b", 2, 10)
        cache.flush()
        assert cache.get("a") is None
        assert cache.get("b") is None

    # Values.

    def test_set_then_get(self, cache: CacheBase) -> None:
        cache.set("key", "value", 10)
        assert cache.get("key") == "value"

    @pytest.mark.parametrize(
        "value", [3, 3.14, True, "", "é", ["a"], {"b": [1, 2]}, {"nested": {"x": None}}]
    )
    def test_json_values_come_back_equal(self, cache: CacheBase, value: object) -> None:
        cache.set("key", value, 10)
        assert cache.get("key") == value

    def test_empty_string_is_not_a_miss(self, cache: CacheBase) -> None:
        # Pagination tokens are stored as "" and told apart from missing ones.
        cache.set("token", "", 10)
        assert cache.get("token") == ""
        assert cache.delete("token") == ""

    def test_bytes_are_refused(self, cache: CacheBase) -> None:
        with pytest.raises(TypeError):
            cache.set("key", b"raw", 10)
        assert cache.get("key") is None

    def test_set_overwrites(self, cache: CacheBase) -> None:
        cache.set("key", "old", 10)
        cache.set("key", "new", 10)
        assert cache.get("key") == "new"

    def test_stored_values_are_copies(self, cache: CacheBase) -> None:
        value = {"list": [1]}
        cache.set("key", value, 10)
        value["list"].append(2)
        cache.get("key")["list"].append(3)
        assert cache.get("key") == {"list": [1]}

    def test_get_unknown_is_none(self, cache: CacheBase) -> None:
        assert cache.get("unknown") is None

    def test_delete_returns_the_value(self, cache: CacheBase) -> None:
        cache.set("key", {"a": 1}, 10)
        assert cache.delete("key") == {"a": 1}
        assert cache.get("key") is None
        assert cache.delete("key") is None

    def test_delete_unknown_is_none(self, cache: CacheBase) -> None:
        assert cache.delete("unknown") is None

    def test_pop_takes_the_value_once(self, cache: CacheBase) -> None:
        cache.set("key", {"a": 1}, 10)
        assert cache.pop("key") == {"a": 1}
        assert cache.get("key") is None
        assert cache.pop("key") is None

    def test_pop_unknown_is_none(self, cache: CacheBase) -> None:
        assert cache.pop("unknown") is None

    def test_concurrent_pops_take_the_value_once(self, cache: CacheBase) -> None:
        """Each taker keeps its transaction open a while: a take that waited
        for the commit would let every taker read the value."""
        cache.set("state", "secret", 10)
        takers = 4
        start = threading.Barrier(takers)
        taken: list[object] = []

        def take() -> None:
            with transaction.atomic():
                start.wait(timeout=5)
                taken.append(cache.pop("state"))
                time.sleep(0.2)

        threads = [threading.Thread(target=take) for _ in range(takers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert sorted(taken, key=str) == [None, None, None, "secret"]
        assert cache.get("state") is None

    def test_pop_sees_the_writes_of_its_transaction(self, cache: CacheBase) -> None:
        with transaction.atomic():
            cache.set("key", "value", 10)
            assert cache.pop("key") == "value"
            assert cache.get("key") is None
        assert cache.get("key") is None

    # Expiry.

    def test_set_with_ttl_expires(self, cache: CacheBase) -> None:
        cache.set("key", "value", 0.05)
        assert cache.get("key") == "value"
        time.sleep(0.1)
        assert cache.get("key") is None

    def test_expire_shortens_the_life(self, cache: CacheBase) -> None:
        cache.set("key", "value", 60)
        cache.expire("key", 0.05)
        time.sleep(0.1)
        assert cache.get("key") is None

    def test_expire_extends_the_life(self, cache: CacheBase) -> None:
        cache.set("key", "value", 0.05)
        cache.expire("key", 60)
        time.sleep(0.1)
        assert cache.get("key") == "value"

    def test_expire_zero_expires_now(self, cache: CacheBase) -> None:
        cache.set("key", "value", 60)
        cache.expire("key", 0)
        assert cache.ttl("key") <= 0
        assert cache.get("key") is None

    def test_expire_unknown_key_does_not_create_it(self, cache: CacheBase) -> None:
        cache.expire("unknown", 60)
        assert cache.get("unknown") is None

    def test_ttl_counts_down(self, cache: CacheBase) -> None:
        cache.set("key", "value", 60)
        cache.expire("key", 10)
        assert 9 < cache.ttl("key") <= 10

    def test_ttl_of_unknown_key_is_negative(self, cache: CacheBase) -> None:
        assert cache.ttl("unknown") < 0

    def test_expired_value_is_not_returned_by_delete(self, cache: CacheBase) -> None:
        cache.set("key", "value", 0.05)
        time.sleep(0.1)
        assert cache.delete("key") is None

    def test_expired_value_is_not_returned_by_pop(self, cache: CacheBase) -> None:
        cache.set("key", "value", 0.05)
        time.sleep(0.1)
        assert cache.pop("key") is None

    def test_set_resets_the_ttl(self, cache: CacheBase) -> None:
        cache.set("key", "value", 0.05)
        cache.set("key", "value", 60)
        time.sleep(0.1)
        assert cache.get("key") == "value"

    # Prefix.

    def test_prefix_is_added_on_set(
        self, cache: CacheBase, prefixed_cache: Callable[[str], CacheBase]
    ) -> None:
        prefixed_cache("prefix_").set("key", "foo", 10)
        assert cache.get("prefix_key") == "foo"
        assert cache.get("key") is None

    def test_prefix_is_used_by_get(
        self, cache: CacheBase, prefixed_cache: Callable[[str], CacheBase]
    ) -> None:
        cache.set("prefix_key", "foo", 10)
        assert prefixed_cache("prefix_").get("key") == "foo"

    def test_prefix_is_used_by_delete(
        self, cache: CacheBase, prefixed_cache: Callable[[str], CacheBase]
    ) -> None:
        cache.set("prefix_key", "foo", 10)
        cache.set("key", "bar", 10)
        assert prefixed_cache("prefix_").delete("key") == "foo"
        assert cache.get("prefix_key") is None
        assert cache.get("key") == "bar"

    def test_prefix_is_used_by_pop(
        self, cache: CacheBase, prefixed_cache: Callable[[str], CacheBase]
    ) -> None:
        cache.set("prefix_key", "foo", 10)
        cache.set("key", "bar", 10)
        assert prefixed_cache("prefix_").pop("key") == "foo"
        assert cache.get("prefix_key") is None
        assert cache.get("key") == "bar"

    def test_prefix_is_used_by_ttl(
        self, cache: CacheBase, prefixed_cache: Callable[[str], CacheBase]
    ) -> None:
        cache.set("prefix_key", "foo", 10)
        assert 9 < prefixed_cache("prefix_").ttl("key") <= 10

    def test_prefix_is_used_by_expire(
        self, cache: CacheBase, prefixed_cache: Callable[[str], CacheBase]
    ) -> None:
        cache.set("prefix_key", "foo", 10)
        prefixed_cache("prefix_").expire("key", 0)
        assert cache.get("prefix_key") is None

    def test_empty_prefix(
        self, cache: CacheBase, prefixed_cache: Callable[[str], CacheBase]
    ) -> None:
        prefixed_cache("").set("key", "foo", 10)
        assert cache.get("key") == "foo"

    # Transactions.

    def test_writes_are_visible_inside_their_transaction(self, cache: CacheBase) -> None:
        with transaction.atomic():
            cache.set("key", "value", 10)
            assert cache.get("key") == "value"
        assert cache.get("key") == "value"

    def test_failed_transaction_rolls_back_set(self, cache: CacheBase) -> None:
        cache.set("kept", "old", 10)
        with pytest.raises(Boom), transaction.atomic():
            cache.set("kept", "new", 10)
            cache.set("added", "value", 10)
            raise Boom
        assert cache.get("kept") == "old"
        assert cache.get("added") is None

    def test_failed_transaction_gives_back_a_consumed_token(self, cache: CacheBase) -> None:
        cache.set("token", "", 10)
        with pytest.raises(Boom), transaction.atomic():
            assert cache.delete("token") == ""
            assert cache.get("token") is None
            raise Boom
        assert cache.delete("token") == ""

    def test_failed_transaction_rolls_back_expire(self, cache: CacheBase) -> None:
        cache.set("key", "value", 60)
        with pytest.raises(Boom), transaction.atomic():
            cache.expire("key", 0)
            raise Boom
        assert cache.get("key") == "value"
        assert cache.ttl("key") > 50

    def test_failed_transaction_rolls_back_flush(self, cache: CacheBase) -> None:
        cache.set("key", "value", 60)
        with pytest.raises(Boom), transaction.atomic():
            cache.flush()
            cache.set("other", "value", 60)
            raise Boom
        assert cache.get("key") == "value"
        assert cache.get("other") is None

    def test_uncommitted_writes_are_invisible_to_other_threads(self, cache: CacheBase) -> None:
        seen: list[object] = []
        reader = threading.Thread(target=lambda: seen.append(cache.get("key")))
        with pytest.raises(Boom), transaction.atomic():
            cache.set("key", "value", 10)
            reader.start()
            # A backend may either block the reader or show it the old state.
            reader.join(timeout=0.2)
            raise Boom
        reader.join(timeout=5)
        assert seen == [None]
