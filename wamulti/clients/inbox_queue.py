"""InboxQueue: a worker's inbox, whose idle thread waits in poll() on an eventfd, not in a lock.

A thread waiting in a lock (queue.Queue) is a futex waiter in the kernel's futex hash, which has a
few hundred buckets; every lock hand-off anywhere in the process walks a bucket's chain of waiters.
With 5,000 idle clients that is 10,000 parked threads, and a contended GIL hand-off cost 5-8 us of
CPU instead of about 1 (`python -m bench.thread_handoffs`): a create took twice the CPU it took at
2,000 clients. A thread parked in poll() is not in that hash. So each inbox holds an eventfd; a put
appends and adds 1 to it, the worker polls it. One file descriptor per running client, so only
where descriptors are plentiful (a soft limit of MIN_DESCRIPTORS or more, as the systemd units' 65,536,
and the process below EVENTFDS_SHARE of it); elsewhere an inbox is a plain queue.Queue, which
behaves the same.

One consumer (the worker thread), any number of producers. The run's end closes the descriptor
(close(); the finalizer does it for an inbox dropped without); a put after that writes nothing, as
the descriptor and its closed flag share a lock, so no write can reach a closed or reused number.
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


def _claim_eventfd() -> int | None:
    """A non-blocking eventfd while descriptors are plentiful, else None (the caller uses a queue.Queue).
    Descriptors are numbered lowest free first, so the new one's number is about how many the process
    holds: past EVENTFDS_SHARE of the limit it is given back, and what else needs descriptors (HTTP
    connections, the store, WhatsApp's sockets) keeps the rest."""
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
    return fd


class _Eventfd:
    """The descriptor and whether it is closed, under one lock: a put never writes to a closed (or a
    reused) number. Closed by the run's end (InboxQueue.close), else when the inbox is garbage."""

    def __init__(self, fd: int):
        self.fd, self._lock, self._closed = fd, threading.Lock(), False

    def signal(self) -> None:
        with self._lock:
            if not self._closed:
                os.eventfd_write(self.fd, 1)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self.fd)


class InboxQueue:
    """put / get(timeout) / get_nowait, raising queue.Empty as queue.Queue does; close() when the
    consumer is done (later puts are kept, and nobody reads them)."""

    def __init__(self):
        fd = _claim_eventfd()
        self._fallback: queue.Queue | None = queue.Queue() if fd is None else None
        self._eventfd = None if fd is None else _Eventfd(fd)
        if self._eventfd is not None:
            self._items: collections.deque = collections.deque()  # append/popleft are atomic
            weakref.finalize(self, self._eventfd.close)

    @property
    def parks_in_poll(self) -> bool:
        """Whether a waiting worker parks in poll() (False: in a lock, the fallback)."""
        return self._eventfd is not None

    def close(self) -> None:
        """The consumer is done: give the descriptor back now, not when the inbox is garbage."""
        if self._eventfd is not None:
            self._eventfd.close()

    def put(self, item) -> None:
        if self._fallback is not None:
            self._fallback.put(item)
            return
        self._items.append(item)
        self._eventfd.signal()  # after the append: a woken reader finds the item

    def get_nowait(self):
        if self._fallback is not None:
            return self._fallback.get_nowait()
        try:
            return self._items.popleft()
        except IndexError:
            raise queue.Empty from None

    def drain(self) -> list:
        """Every item in the inbox now, taken out."""
        items = []
        while True:
            try:
                items.append(self.get_nowait())
            except queue.Empty:
                return items

    def get(self, timeout: float | None = None):
        """The next item; wait at most `timeout` seconds (None: until one comes), else queue.Empty."""
        if self._fallback is not None:
            return self._fallback.get(timeout=timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        poller = select.poll()
        poller.register(self._eventfd.fd, select.POLLIN)
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
                    os.eventfd_read(self._eventfd.fd)  # resets the count; the items say what came
                except BlockingIOError:
                    pass
