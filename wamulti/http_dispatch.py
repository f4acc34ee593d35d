"""The hand-over from waitress's serving loop to its request threads, ordered for a busy GIL.

waitress wakes a request thread for every request as soon as the serving loop has read it. Under
load the woken thread takes the GIL at the loop's next socket call, and the loop waits out that
thread's whole burst before it reads the next socket: every request read in a pass delays the rest
of the pass, a new connection's first of all. Here the loop reads everything that is ready first and
wakes the threads once per pass (`wake_pending`, which the loop's owner calls after each pass).

Reads (GET, HEAD: status, health, metrics) go ahead of the other requests already queued, sends
above all, in the order they came: they are quick and hold no lock a send needs, so a status route
answers promptly however many sends wait for a thread.
"""

from __future__ import annotations

import threading

from waitress.task import ThreadedTaskDispatcher

READS = frozenset({"GET", "HEAD"})


class PassDispatcher(ThreadedTaskDispatcher):
    """waitress's pool of request threads, woken once per serving-loop pass, reads first.

    Make it on the thread that will run the serving loop, and call wake_pending() after every pass:
    requests the loop queues wait for that call."""

    def __init__(self, threads: int):
        super().__init__()
        self._loop_thread = threading.get_ident()
        self._pending = 0  # tasks the loop queued in this pass (only the loop thread touches it)
        self.set_thread_count(threads)

    def add_task(self, task) -> None:
        with self.lock:
            if _is_read(task):  # behind the reads already waiting, ahead of everything else
                ahead = 0
                while ahead < len(self.queue) and _is_read(self.queue[ahead]):
                    ahead += 1
                self.queue.insert(ahead, task)
            else:
                self.queue.append(task)
            if threading.get_ident() == self._loop_thread:
                self._pending += 1
            else:  # a request thread queues a pipelined request: no pass ends for it
                self.queue_cv.notify()

    def wake_pending(self) -> None:
        """Wake one request thread for each task queued in the pass that just ended."""
        if self._pending:
            with self.lock:
                self.queue_cv.notify(self._pending)
                self._pending = 0


def _is_read(task) -> bool:
    """The task is a channel; the request it will serve first is its first."""
    requests = getattr(task, "requests", None)
    return bool(requests) and getattr(requests[0], "command", None) in READS
