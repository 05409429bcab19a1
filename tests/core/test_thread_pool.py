"""The waitress thread pool of ``kinto start`` (:func:`serving.dispatcher`).

It holds a thread per allowed live subscriber on top of the ordinary ones; the
next request must go to the thread idle the shortest, not round all of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from kinto_clone.core.live import serving


class Job:
    """A waitress task recording the thread that ran it."""

    def __init__(self) -> None:
        self.thread: int | None = None
        self.done = threading.Event()

    def service(self) -> None:
        self.thread = threading.get_ident()
        self.done.set()

    def cancel(self) -> None:
        self.done.set()


def wait_until_idle(pool: object) -> None:
    deadline = time.monotonic() + 5
    while pool.active_count and time.monotonic() < deadline:
        time.sleep(0.001)
    assert pool.active_count == 0


@pytest.fixture
def pool() -> Iterator[object]:
    threads = serving.dispatcher(20)
    wait_until_idle(threads)
    yield threads
    assert threads.shutdown(timeout=5)


def test_requests_one_after_another_run_on_one_thread(pool: object) -> None:
    ran = set()
    for _ in range(30):
        job = Job()
        pool.add_task(job)
        assert job.done.wait(5)
        ran.add(job.thread)
        wait_until_idle(pool)
    assert len(ran) == 1


def test_concurrent_requests_still_get_threads_of_their_own(pool: object) -> None:
    release = threading.Event()
    started = threading.Barrier(11)

    class Blocking(Job):
        def service(self) -> None:
            super().service()
            started.wait(5)
            release.wait(5)

    jobs = [Blocking() for _ in range(10)]
    for job in jobs:
        pool.add_task(job)
    started.wait(5)  # ten jobs running at once: ten threads
    release.set()
    assert len({job.thread for job in jobs}) == 10


def test_a_wait_with_a_timeout_gives_up() -> None:
    lock = threading.Lock()
    condition = serving.StackCondition(lock)
    with lock:
        assert condition.wait(timeout=0.01) is False
        condition.notify()  # nobody waits any more: nothing to wake
    assert not lock.locked()
