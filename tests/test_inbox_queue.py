"""InboxQueue (clients/inbox_queue.py): a worker's inbox parked in poll() on an eventfd, and its
fallback to queue.Queue when descriptors are scarce; both behave the same."""

from __future__ import annotations

import gc
import os
import queue
import resource
import threading
import time

import pytest

from wamulti.clients import inbox_queue
from tests.conftest import drive_to_ready, wait_until
from wamulti.clients.inbox_queue import InboxQueue


@pytest.fixture(params=["eventfd", "fallback"])
def inbox(request, monkeypatch):
    if request.param == "fallback":
        monkeypatch.setattr(inbox_queue, "EVENTFDS_SHARE", 0.0)  # no descriptor may be used
    box = InboxQueue()
    assert box.parks_in_poll is (request.param == "eventfd")
    return box


def test_items_come_out_in_order_and_an_empty_inbox_says_so(inbox):
    with pytest.raises(queue.Empty):
        inbox.get_nowait()
    for n in range(5):
        inbox.put(n)
    assert [inbox.get(timeout=1) for _ in range(3)] + [inbox.get_nowait(), inbox.get()] == [0, 1, 2, 3, 4]


def test_a_wait_ends_at_its_timeout_and_at_once_when_an_item_comes(inbox):
    began = time.monotonic()
    with pytest.raises(queue.Empty):
        inbox.get(timeout=0.2)
    assert 0.19 <= time.monotonic() - began < 1.0
    threading.Timer(0.1, inbox.put, args=("late",)).start()
    began = time.monotonic()
    assert inbox.get(timeout=5) == "late" and time.monotonic() - began < 1.0
    threading.Timer(0.1, inbox.put, args=("no timeout",)).start()
    assert inbox.get() == "no timeout"


def test_many_producers_lose_nothing_to_one_consumer(inbox):
    def produce(start: int) -> None:
        for n in range(start, start + 2000):
            inbox.put(n)

    producers = [threading.Thread(target=produce, args=(k * 2000,)) for k in range(4)]
    for producer in producers:
        producer.start()
    got = [inbox.get(timeout=5) for _ in range(8000)]
    for producer in producers:
        producer.join()
    assert sorted(got) == list(range(8000))
    for k in range(4):  # each producer's items in the order it put them
        mine = [n for n in got if k * 2000 <= n < (k + 1) * 2000]
        assert mine == sorted(mine)
    with pytest.raises(queue.Empty):
        inbox.get(timeout=0.05)


def _eventfds() -> int:
    """This process's open eventfds (other tests' leftovers among them)."""
    return sum(_points_to(fd) == "anon_inode:[eventfd]" for fd in os.listdir("/proc/self/fd"))


def _points_to(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # closed meanwhile by another thread
        return ""


def test_the_descriptor_closes_at_close_and_with_a_dropped_inbox_and_a_late_put_writes_nothing():
    boxes = [InboxQueue() for _ in range(10)]
    assert all(b.parks_in_poll for b in boxes)
    held = _eventfds()
    boxes[0].put("kept")
    boxes[0].close()
    assert _eventfds() <= held - 1
    boxes[0].put("after the close")  # a producer that did not know: no write to a closed descriptor
    assert boxes[0].drain() == ["kept", "after the close"]
    del boxes
    gc.collect()
    assert _eventfds() <= held - 10


def test_a_shells_descriptor_limit_or_a_process_holding_half_of_them_gets_plain_queues():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))  # a login shell's usual limit
    try:
        shell = InboxQueue()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert not shell.parks_in_poll
    shell.put("still works")
    assert shell.get(timeout=1) == "still works"
    original = inbox_queue.EVENTFDS_SHARE
    try:
        inbox_queue.EVENTFDS_SHARE = 3 / soft  # past stdin, stdout and stderr: the share is held already
        assert not InboxQueue().parks_in_poll
    finally:
        inbox_queue.EVENTFDS_SHARE = original
    assert InboxQueue().parks_in_poll


def _parked_in(thread: threading.Thread) -> str:
    """What the kernel says the thread waits in (its wchan), e.g. 'poll_schedule_timeout' or 'futex_...'."""
    with open(f"/proc/self/task/{thread.native_id}/wchan") as wchan:
        return wchan.read()


def test_an_idle_ready_clients_worker_is_parked_in_poll_not_in_a_lock(make_registry, fake_backend):
    registry = make_registry()
    registry.create("idle", "4915100000001")
    drive_to_ready(fake_backend.wait_session(1))
    wait_until(lambda: registry.get("idle").state == "READY")
    worker = next(t for t in threading.enumerate() if t.name == "wa-idle")
    wait_until(lambda: "poll" in _parked_in(worker))
    assert "futex" not in _parked_in(worker)
