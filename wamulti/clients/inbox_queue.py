"""InboxQueue: a worker's inbox, whose idle thread waits in poll() on an eventfd, not in a lock.

A thread waiting in a lock (queue.Queue) is a futex waiter in the kernel's futex hash, which has a
few hundred buckets; every lock hand-off anywhere in the process walks a bucket's chain of waiters.
With 5,000 idle clients that is 10,000 parked threads, and each GIL hand-off cost about 8 us of
CPU instead of 0.6 (`python -m bench.thread_handoffs`): a create took twice the CPU it took at
2,000 clients. A thread parked in poll() is not in that hash. So each inbox holds an eventfd; a put
appends and adds 1 to it, the worker polls it. One file descriptor per running client, so only
where descriptors are plentiful (a soft limit of MIN_DESCRIPTORS or more, as the systemd units' 65,536,
and the process below EVENTFDS_SHARE of it); elsewhere an inbox is a plain queue.Queue, which
behaves the same.

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
MIN_DESCRIPTORS = 16384  # below this soft limit (a shell's 1024) every inbox is a queue.Queue
EVENTFDS_SHARE = 0.5  # no eventfd once the process holds this share of its descriptors
_open_lock = threading.Lock()
_open = 0  # eventfds held by live inboxes


def _claim_eventfd() -> int | None:
    """A non-blocking eventfd while descriptors are plentiful, else None (the caller uses a queue.Queue).
    Descriptors are numbered lowest free first, so the new one's number is about how many the process
    holds: past EVENTFDS_SHARE of the limit it is given back, and what else needs descriptors (HTTP
    connections, the store, WhatsApp's sockets) keeps the rest."""
    global _open
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limited = soft != resource.RLIM_INFINITY
    if not hasattr(os, "eventfd") or (limited and soft < MIN_DESCRIPTORS):
        return None
    try:
        fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
    except OSError:  # EMFILE and the like
        return None
    if limited and fd >= soft * EVENTFDS_SHARE:
        os.close(fd)
        return None
    with _open_lock:
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
