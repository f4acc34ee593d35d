"""The one place wamulti reaches into waitress's internals, for a busy GIL; the rest uses its public
interface (wamulti/server.py). tests/test_seams_waitress.py pins the version and every attribute used
here; bench/README.md has the figure each part buys (`bench.sends --seams`, with and without).

`channel`: waitress's request thread sends its own answer holding the connection's output lock.
Meanwhile the connection has output queued, so the serving loop polls it for writing: the socket is
writable at once, the loop finds the lock taken, does nothing and polls again, every connection with
it, taking the GIL the writer waits for each time. QuietChannel is not polled while its lock is
taken; its writer pulls the trigger once it lets go if the socket did not take everything, so the
loop sends the rest. OneSendTask sends a body given in one piece (Flask's JSON answers) with its
header: one socket send, one GIL round trip, where waitress makes two.

`passes`: waitress wakes a request thread for each request as soon as the loop has read it; under
load the woken thread takes the GIL at the loop's next socket call and the rest of the pass waits
out its burst, a new connection's first request too. PassDispatcher wakes the threads once at the
end of each pass (run_in_passes), and puts reads (GET, HEAD: status routes, quick, holding no lock a
send needs) ahead of queued sends, in the order they came.
"""

from __future__ import annotations

import threading

from waitress import create_server
from waitress.channel import HTTPChannel
from waitress.task import ThreadedTaskDispatcher, WSGITask

PINNED_VERSION = "3.0.2"  # requirements.txt; the contract test fails when it moves
PARTS = frozenset({"channel", "passes"})
READS = frozenset({"GET", "HEAD"})


def create_tuned_server(app, parts: frozenset, threads: int, **adjustments):
    """waitress's create_server with the chosen PARTS; run it with run_in_passes if `passes` is one."""
    unknown = set(parts) - PARTS
    if unknown:
        raise ValueError(f"unknown waitress seam parts: {sorted(unknown)}")
    shim = {"_dispatcher": PassDispatcher(threads)} if "passes" in parts else {}
    server = create_server(app, threads=threads, **shim, **adjustments)
    if "channel" in parts:
        server.channel_class = QuietChannel
    return server


def run_in_passes(server) -> None:
    """server.run(), waking the request threads after every pass; ends as it does, on SystemExit (or
    once its connections are all closed)."""
    try:
        while server._map:
            server.asyncore.loop(timeout=server.adj.asyncore_loop_timeout, map=server._map,
                                 use_poll=server.adj.asyncore_use_poll, count=1)
            server.task_dispatcher.wake_pending()
    except (SystemExit, KeyboardInterrupt):
        server.task_dispatcher.shutdown()


class PassDispatcher(ThreadedTaskDispatcher):
    """waitress's pool of request threads, woken once per serving-loop pass, reads first.

    Make it on the thread that will run the serving loop (run_in_passes): requests that loop queues
    wait for the end of its pass."""

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


class OneSendTask(WSGITask):
    """waitress's WSGI task; the header goes out with the first piece of the body if that is all of it."""

    def write(self, data):
        if self.wrote_header or not data or not self.complete:
            return super().write(data)
        header = self.build_response_header()  # decides the length and chunking first
        self.wrote_header = True
        if self.has_body and not self.chunked_response and self.content_length == len(data):
            self.content_bytes_written += len(data)
            self.channel.write_soon(header + data)
        else:  # chunked, streamed, or no body: waitress's own way, the header already written
            self.channel.write_soon(header)
            super().write(data)


class QuietChannel(HTTPChannel):
    """An HTTPChannel the loop leaves alone while a request thread is writing to it."""

    task_class = OneSendTask

    def writable(self):
        if not super().writable():
            return False
        if not self.outbuf_lock.acquire(False):  # a request thread is sending: it is not ours to send now
            return False
        self.outbuf_lock.release()
        return True

    def write_soon(self, data):
        written = super().write_soon(data)
        if self.total_outbufs_len:  # the socket took only part: the loop sends the rest, the lock free now
            self.server.pull_trigger()
        return written

