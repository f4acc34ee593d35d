"""waitress's connection (channel), left out of the serving loop's poll while its request thread writes.

With `send_bytes=1` the request thread sends its own answer, holding the channel's output lock. For
that while the channel has output queued, so waitress's loop polls it for writing: the socket is
writable at once, the loop finds the lock taken and does nothing, and polls again, every other
channel with it. Each such pass takes the GIL the writing thread is waiting for. Measured with 48
keep-alive callers sending: 110 empty passes per request, two thirds of the server's CPU in the loop.
Here a channel whose lock is taken is not polled for writing; the writer pulls the trigger once it
has let go of the lock if the socket did not take everything, so the loop sends the rest.
"""

from __future__ import annotations

from waitress.channel import HTTPChannel


class QuietChannel(HTTPChannel):
    """An HTTPChannel the loop leaves alone while a request thread is writing to it."""

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
