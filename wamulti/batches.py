"""BatchThread: one thread, started on demand, that takes whatever other threads queued and hands
it on a batch at a time; it ends after a while without work and starts again on the next item.

The store writers (sessions/group_commit.py, sending/send_status.py) use it so that many threads'
writes cost a few transactions a second instead of one each, with no thread kept while idle.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Generic, TypeVar

Item = TypeVar("Item")


class BatchThread(Generic[Item]):
    """Queue items from any thread; `handle` gets them in order, up to `max_batch` at a time."""

    def __init__(self, name: str, handle: Callable[[list[Item]], None], *, max_batch: int,
                 window: float = 0.0, idle_exit: float = 30.0):
        """`window`: seconds the first item of a batch waits for more; `idle_exit`: seconds without
        items before the thread ends."""
        self._name = name
        self._handle = handle
        self._max_batch = max_batch
        self._window = window
        self._idle_exit = idle_exit
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._lock = threading.Lock()  # _thread and the decision to end it
        self._thread: threading.Thread | None = None

    def put(self, item: Item) -> None:
        with self._lock:
            self._queue.put(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self._idle_exit)
            except queue.Empty:
                with self._lock:  # put() starts a new thread only once this one has said it ends
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            self._handle(self._gather(first))

    def _gather(self, first: Item) -> list[Item]:
        batch, deadline = [first], time.monotonic() + self._window
        while len(batch) < self._max_batch:
            try:
                batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch
