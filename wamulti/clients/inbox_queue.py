"""InboxQueue: a worker's inbox, whose idle thread waits in poll() on an eventfd, not in a lock.

A thread waiting in a lock (queue.Queue) is a futex waiter in the kernel's futex hash, which has a
few hundred buckets; every lock hand-off anywhere in the process walks a bucket's chain of waiters.
With 5,000 idle clients that is 10,000 parked threads, and each GIL hand-off cost about 8 us of
CPU instead of 0.6 (`python -m bench.thread_handoffs`): a create took twice the CPU it took at
2,000 clients. A thread parked in poll() is not in that hash. So each inbox holds an eventfd; a put
appends and adds 1 to it, the worker polls it. One file descriptor per running client: while the
process's descriptors are scarce (EVENTFDS_SHARE of the soft limit in use by inboxes, or eventfd
not available), an inbox falls back to a plain queue.Queue, which behaves the same.

One consumer (the worker thread), any number of producers. The descriptor closes when the inbox is
garbage (weakref.finalize): a producer holding `put` keeps it open, so no write can reach a closed
or reused descriptor.
"""

from __future__ import annotations

import collections
import os
import queue
import resource
import select
import threading
import time
import weakref

Empty = queue.Empty  # what get() and get_nowait() raise, as queue.Queue's do
EVENTFDS_SHARE = 0.5  # of RLIMIT_NOFILE's soft limit that inboxes may hold
_open_lock = threading.Lock()
_open = 0  # eventfds held by live inboxes


def _claim_eventfd() -> int | None:
    """A non-blocking eventfd while inboxes hold less than their share of descriptors, else None."""
    global _open
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    with _open_lock:
        if not hasattr(os, "eventfd") or (soft != resource.RLIM_INFINITY and _open >= soft * EVENTFDS_SHARE):
            return None
        try:
            fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        except OSError:  # EMFILE and the like: the plain queue serves
            return None
        _open += 1
        return fd


def eventfds_in_use() -> int:
    """How many descriptors the live inboxes hold."""
    with _open_lock:
        return _open


def _release_eventfd(fd: int) -> None:
    global _open
    os.close(fd)
    with _open_lock:
        _open -= 1


class InboxQueue:
    """put / get(timeout) / get_nowait, raising queue.Empty as queue.Queue does."""

    def __init__(self):
        self._fd = _claim_eventfd()
        if self._fd is None:
            self._fallback: queue.Queue | None = queue.Queue()
            return
        self._fallback = None
        self._items: collections.deque = collections.deque()  # append/popleft are atomic
        weakref.finalize(self, _release_eventfd, self._fd)

    @property
    def parks_in_poll(self) -> bool:
        """Whether a waiting worker parks in poll() (False: in a lock, the fallback)."""
        return self._fallback is None

    def put(self, item) -> None:
        if self._fallback is not None:
            self._fallback.put(item)
            return
        self._items.append(item)
        os.eventfd_write(self._fd, 1)  # after the append: a woken reader finds the item

    def get_nowait(self):
        if self._fallback is not None:
            return self._fallback.get_nowait()
        try:
            return self._items.popleft()
        except IndexError:
            raise queue.Empty from None

    def get(self, timeout: float | None = None):
        """The next item; wait at most `timeout` seconds (None: until one comes), else queue.Empty."""
        if self._fallback is not None:
            return self._fallback.get(timeout=timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while True:
            try:
                return self._items.popleft()
            except IndexError:
                pass
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise queue.Empty
            if poller.poll(None if left is None else max(1, int(left * 1000 + 0.999))):
                try:
                    os.eventfd_read(self._fd)  # resets the count; the items say what came
                except BlockingIOError:
                    pass
