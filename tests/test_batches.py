"""BatchThread: order kept, batches bounded, a thread only while there is work."""

from __future__ import annotations

import threading
import time

from wamulti.batches import BatchThread


def wait_until(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def running(name: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name == name and t.is_alive())


def test_items_from_many_threads_arrive_once_each_in_each_threads_order_in_bounded_batches():
    batches: list[list[tuple[int, int]]] = []
    gate = threading.Event()

    def handle(batch):
        gate.wait(5)  # the first batch is held so the rest queue up behind it
        batches.append(batch)

    batcher = BatchThread("batch-test-order", handle, max_batch=7)
    putters = [threading.Thread(target=lambda n=n: [batcher.put((n, i)) for i in range(50)]) for n in range(4)]
    for t in putters:
        t.start()
    for t in putters:
        t.join()
    gate.set()
    assert wait_until(lambda: sum(map(len, batches)) == 200)
    assert max(map(len, batches)) == 7 and len(batches) < 200, "what queued went in full batches"
    seen = [item for batch in batches for item in batch]
    for n in range(4):
        assert [i for m, i in seen if m == n] == list(range(50))


def test_the_thread_ends_when_idle_and_a_later_item_starts_one_again():
    got: list[int] = []
    batcher = BatchThread("batch-test-idle", got.extend, max_batch=10, idle_exit=0.2)
    batcher.put(1)
    assert wait_until(lambda: got == [1]) and running("batch-test-idle") == 1
    assert wait_until(lambda: running("batch-test-idle") == 0), "no thread kept while idle"
    batcher.put(2)
    assert wait_until(lambda: got == [1, 2])


def test_the_window_gathers_items_that_come_soon_after_the_first():
    batches: list[list[int]] = []
    batcher = BatchThread("batch-test-window", batches.append, max_batch=10, window=0.5)
    batcher.put(1)
    time.sleep(0.05)
    batcher.put(2)
    assert wait_until(lambda: sum(map(len, batches)) == 2)
    assert batches == [[1, 2]]
