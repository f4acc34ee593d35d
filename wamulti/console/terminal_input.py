"""Lines typed on the console, read straight from the file descriptor.

select() and os.read() with our own line buffer, never sys.stdin.readline(): stdio's buffer would
swallow lines typed ahead, and a blocking read could not be interrupted by wake() or a deadline.
"""

from __future__ import annotations

import enum
import errno
import os
import select
import threading
import time

READ_CHUNK = 4096
BACKGROUND_POLL = 0.5  # seconds between foreground checks while the process is a background job


def readable_fd(stream) -> int | None:
    """The stream's file descriptor if it can be select()ed and read, else None."""
    try:
        fd = stream.fileno()
        os.fstat(fd)
        return fd
    except (AttributeError, ValueError, OSError):  # None, closed, StringIO (io.UnsupportedOperation)
        return None


class Waited(enum.Enum):
    """Why `TerminalInput.wait()` returned."""

    AGAIN = "input was read, or nothing came yet: check has_line() and wait again"
    WOKEN = "wake() was called"
    ENDED = "end of input (or the terminal went away), or the deadline had passed"


class TerminalInput:
    """Lines from a readable descriptor (normally stdin's), with a wake pipe to interrupt a wait.

    A process in a background process group of its terminal (`wsgi.py &` in a shell with job
    control) does not read it: that would stop the whole process with SIGTTIN. It waits for wake()
    and checks every BACKGROUND_POLL seconds whether it was brought to the foreground.
    End of input is sticky (`at_eof`). wake() may be called from any thread; the rest belongs to
    the one thread that reads.
    """

    def __init__(self, fd: int):
        self._fd = fd
        self._tty = os.isatty(fd)
        self._pending = b""  # read but not yet taken as a line
        self._eof = False
        self._lock = threading.Lock()  # wake() against close()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    @property
    def at_eof(self) -> bool:
        """Whether the input reached end-of-file (or its terminal went away)."""
        return self._eof

    def foreground(self) -> bool:
        """False while this process is a background job of the terminal (reading would stop it)."""
        if not self._tty:
            return True
        try:
            return os.tcgetpgrp(self._fd) == os.getpgrp()
        except OSError:  # not our controlling terminal: no job control applies
            return True

    def discard_typed_ahead(self) -> None:
        """Drop everything typed so far: lines typed while no prompt was showing answer no prompt."""
        self._pending = b""
        if not self.foreground():
            return
        while True:
            try:
                ready, _, _ = select.select([self._fd], [], [], 0)
            except (OSError, ValueError):
                self._eof = True
                return
            if not ready:
                return
            chunk = self._read_chunk()
            if chunk is None:
                return
            if not chunk:
                self._eof = True
                return

    def wait(self, deadline: float) -> Waited:
        """Wait (until `deadline`, a time.monotonic() value) for input or wake(); read what came."""
        left = deadline - time.monotonic()
        if left <= 0:
            return Waited.ENDED
        if self.foreground():
            fds, timeout = [self._fd, self._wake_r], left
        else:
            fds, timeout = [self._wake_r], min(left, BACKGROUND_POLL)
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except (OSError, ValueError):
            self._eof = True
            return Waited.ENDED
        if self._wake_r in ready:
            # input that came as well is read on the next wait(), after the caller had a look
            self._drain_wake()
            return Waited.WOKEN
        if self._fd in ready:
            return self._read_into_buffer()
        return Waited.AGAIN

    def has_line(self) -> bool:
        """Whether a complete line is waiting for take_line()."""
        return b"\n" in self._pending

    def take_line(self) -> str:
        """The first complete line (without its line ending); call only when has_line()."""
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    def unfinished_line(self) -> str:
        """What was read after the last complete line (shown again when a prompt is redrawn)."""
        return self._pending.decode("utf-8", "replace")

    def wake(self) -> None:
        """Make a wait() in progress (or the next one) return Waited.WOKEN; any thread."""
        with self._lock:  # never write to a descriptor number that close() has just released
            if self._wake_w < 0:
                return
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass  # already full of wake-ups

    def close(self) -> None:
        """Close the wake pipe (the input descriptor belongs to its stream and stays open)."""
        with self._lock:
            fds, self._wake_r, self._wake_w = (self._wake_r, self._wake_w), -1, -1
        for fd in fds:
            if fd >= 0:
                os.close(fd)

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, READ_CHUNK):
                pass
        except OSError:
            pass

    def _read_into_buffer(self) -> Waited:
        chunk = self._read_chunk()
        if chunk is None:
            return Waited.AGAIN
        if not chunk:
            self._eof = True
            if not self._pending.strip():
                return Waited.ENDED
            self._pending += b"\n"  # a last line without a newline still counts
            return Waited.AGAIN
        self._pending += chunk
        return Waited.AGAIN

    def _read_chunk(self) -> bytes | None:
        """Whatever the descriptor has now; b"" for end-of-file (or a terminal that went away),
        None if nothing after all (a non-blocking descriptor that another reader emptied)."""
        try:
            return os.read(self._fd, READ_CHUNK)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EBADF, errno.ENXIO):
                return b""
            raise
