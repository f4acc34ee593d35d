"""waitress's connection (channel), left out of the serving loop's poll while its request thread writes,
and its task, which sends an answer's header and body in one socket send.

With `send_bytes=1` the request thread sends its own answer, holding the channel's output lock.
Meanwhile the channel has output queued, so waitress's loop polls it for writing: the socket is
writable at once, the loop finds the lock taken and does nothing, and polls again, every other
channel with it. Each such pass takes the GIL the writing thread is waiting for. Measured with 48
keep-alive callers sending: 110 empty passes per request, two thirds of the server's CPU in the loop.
Here a channel whose lock is taken is not polled for writing; the writer pulls the trigger once it
has let go of the lock if the socket did not take everything, so the loop sends the rest.

waitress sends the header, then the body: two sends, each giving up the GIL and waiting to take it
back behind the other threads. OneSendTask joins a body the application gives in one piece (Flask's
JSON answers) to its header.
"""

from __future__ import annotations

from waitress.channel import HTTPChannel
from waitress.task import WSGITask


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
