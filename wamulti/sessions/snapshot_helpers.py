"""Long-lived snapshot helper processes: one (or a few) for all clients' snapshot reads.

A child process per snapshot costs a Python start-up (tens of ms of CPU) each time; with hundreds
of busy clients that is most of a core. Instead a small pool of helpers (`snapshot_child.py
--serve`) reads, hashes and compresses session files on request. They are still separate
processes because two SQLite libraries in one process ignore each other's locks (docs/neonize.md).

A helper is started on first use and again after it died or missed a request's deadline (it is
killed then, so a stuck read never holds a helper). Requests wait for a free helper, bounded too.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

CHILD = Path(__file__).with_name("snapshot_child.py")
DEFAULT_HELPERS = 2
REQUEST_TIMEOUT = 30.0  # seconds for one read, waiting for a free helper included


class HelperFailed(Exception):
    """A helper could not answer; the message is safe to log."""


class Helper:
    """One helper process, used by one request at a time (the pool sees to that)."""

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._buffer = b""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _ensure_running(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        if self._proc is not None:
            log.warning("snapshot helper exited (code %s); starting another", self._proc.returncode)
        self._proc = subprocess.Popen([sys.executable, "-I", "-S", str(CHILD), "--serve"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self._buffer = b""
        return self._proc

    def read(self, path: Path, known_sha: str | None, deadline: float) -> tuple[str, bytes | None]:
        """(sha256, compressed contents or None when they still have known_sha)."""
        proc = self._ensure_running()
        try:
            proc.stdin.write(json.dumps({"path": str(path), "known": known_sha}).encode() + b"\n")
            header = json.loads(self._take_line(deadline))
            if "error" in header:
                raise HelperFailed(f"snapshot reader failed: {header['error']}")
            data = self._take(int(header["size"]), deadline)
        except (OSError, ValueError, KeyError) as exc:
            self.kill()
            raise HelperFailed(f"snapshot helper failed: {type(exc).__name__}") from None
        return header["sha256"], (data or None)

    def _fill(self, deadline: float) -> None:
        """Read what the helper has written, waiting until the deadline (then it is killed)."""
        fd = self._proc.stdout.fileno()
        poller = select.poll()  # select() cannot watch descriptors above 1024
        poller.register(fd, select.POLLIN)
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            self.kill()
            raise HelperFailed(f"snapshot helper did not answer within {REQUEST_TIMEOUT:g}s")
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise OSError("helper closed its output")
        self._buffer += chunk

    def _take_line(self, deadline: float) -> bytes:
        while b"\n" not in self._buffer:
            self._fill(deadline)
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _take(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            self._fill(deadline)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        if self._proc is not None:
            self._proc.wait()
        self._buffer = b""


class HelperPool:
    """`size` helpers; a read takes a free one (waiting a bounded time) and gives it back."""

    def __init__(self, size: int = DEFAULT_HELPERS):
        self.helpers = [Helper() for _ in range(size)]
        self._free: queue.SimpleQueue[Helper] = queue.SimpleQueue()
        for helper in self.helpers:
            self._free.put(helper)

    def read(self, path: Path, known_sha: str | None = None,
             timeout: float = REQUEST_TIMEOUT) -> tuple[str, bytes | None]:
        deadline = time.monotonic() + timeout
        try:
            helper = self._free.get(timeout=timeout)
        except queue.Empty:
            raise HelperFailed(f"no snapshot helper free within {timeout:g}s") from None
        try:
            return helper.read(path, known_sha, deadline)
        finally:
            self._free.put(helper)

    def close(self) -> None:
        for helper in self.helpers:
            helper.kill()


_lock = threading.Lock()
_size = DEFAULT_HELPERS
_pool: HelperPool | None = None


def configure(size: int) -> None:
    """How many helpers the process uses (0: a child process per snapshot instead); before first use."""
    global _size, _pool
    with _lock:
        if _pool is not None:
            _pool.close()
        _size, _pool = size, None


def shared_pool() -> HelperPool | None:
    """The process's pool, made on first use; None when configured with 0 helpers."""
    global _pool
    with _lock:
        if _pool is None and _size > 0:
            _pool = HelperPool(_size)
        return _pool
