"""The live-change hub: wake-ups by group, the subscriber bound, shared reads."""

from __future__ import annotations

import threading

import pytest

from kinto_clone.core.live.hub import ChangeHub, SubscribersFull
from kinto_clone.core.live.sources import decode_groups, encode_groups

RECORDS = ("record", "/buckets/b/collections/c")
OTHER = ("record", "/buckets/b/collections/other")


def test_publication_wakes_the_watchers_of_its_groups_only():
    hub = ChangeHub(10)
    watching, elsewhere, everything = hub.subscribe(), hub.subscribe(), hub.subscribe()
    watching.watch(RECORDS)
    elsewhere.watch(OTHER)
    for subscription in (watching, elsewhere, everything):
        subscription.arm()
    hub.publish([RECORDS])
    assert watching.wait(0) and everything.wait(0)
    assert not elsewhere.wait(0)
    hub.publish(None)
    assert elsewhere.wait(0)


def test_a_wake_up_before_the_wait_is_kept_until_armed_again():
    hub = ChangeHub(1)
    subscription = hub.subscribe()
    subscription.watch(RECORDS)
    subscription.arm()
    hub.publish([RECORDS])
    assert subscription.wait(0)
    subscription.arm()
    assert not subscription.wait(0)


def test_the_bound_counts_open_subscriptions():
    hub = ChangeHub(2)
    first = hub.subscribe()
    first.watch(RECORDS)
    hub.subscribe()
    with pytest.raises(SubscribersFull):
        hub.subscribe()
    first.close()
    first.close()  # Closing twice frees one place only.
    first.watch(OTHER)  # A closed subscription watches nothing any more.
    first.arm()
    hub.publish([OTHER])
    assert not first.wait(0)
    hub.subscribe()
    assert hub.subscriber_count == 2


def test_sources_start_with_the_first_subscriber():
    hub = ChangeHub(5)
    started = []
    hub.on_first_subscriber(lambda: started.append(True))
    hub.subscribe()
    hub.subscribe()
    assert started == [True]


def test_a_read_is_shared_only_if_it_started_after_the_subscribers_wake_up():
    hub = ChangeHub(5)
    early, late = hub.subscribe(), hub.subscribe()
    early.arm()
    release = threading.Event()
    calls = []

    def slow_read():
        calls.append("read")
        release.wait(5)
        return len(calls)

    results = {}

    def read(name, subscription):
        results[name] = hub.reads.read("k", subscription.armed_at, slow_read)

    first = threading.Thread(target=read, args=("first", early))
    first.start()
    while not calls:
        pass
    hub.publish(None)  # A commit the running read may not have seen.
    late.arm()
    second = threading.Thread(target=read, args=("second", late))
    second.start()
    release.set()
    first.join()
    second.join()
    read("early again", early)  # Takes the latest finished read.
    assert len(calls) == 2
    assert results["second"] == results["early again"] == 2


def test_notification_payloads_round_trip_and_overflow_to_every_group():
    assert decode_groups(encode_groups([RECORDS, OTHER])) == sorted([RECORDS, OTHER])
    many = [("record", f"/buckets/b/collections/{n:05d}") for n in range(1000)]
    assert decode_groups(encode_groups(many)) is None
    assert decode_groups("not json") is None
