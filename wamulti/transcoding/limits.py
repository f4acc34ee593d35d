"""The process-wide bounds of conversions: how many run at once, how long a tool run may take, and a
count of the tool processes alive (what the bound is measured by).

A conversion slot is held by every ffmpeg/ffprobe process while it lives and by every in-process
image decode (Pillow), so at most TRANSCODE_CONCURRENCY of them use CPU and memory at a time
whatever number of sends or downloads ask."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

DEFAULT_CONCURRENCY = 2
DEFAULT_TIMEOUT = 120.0  # seconds a single ffmpeg/ffprobe run may take before its process group is killed

_lock = threading.Lock()
_slots = threading.BoundedSemaphore(DEFAULT_CONCURRENCY)
_timeout = DEFAULT_TIMEOUT


def configure(concurrency: int = DEFAULT_CONCURRENCY, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Set the bounds (TRANSCODE_CONCURRENCY) for conversions started from now on."""
    global _slots, _timeout
    if concurrency < 1 or timeout <= 0:
        raise ValueError("concurrency must be at least 1 and timeout above 0")
    with _lock:
        _slots = threading.BoundedSemaphore(concurrency)  # runs under way release the one they took
        _timeout = timeout


def run_timeout() -> float:
    """Seconds a tool run may take."""
    return _timeout


@contextmanager
def conversion_slot() -> Iterator[None]:
    """Hold one of the process's conversion slots (waits while all are taken)."""
    with _lock:
        slots = _slots
    slots.acquire()
    try:
        yield
    finally:
        slots.release()


class ProcessCount:
    """The ffmpeg/ffprobe processes alive now, the most alive at once, and how many were started.

    Counted from just after a process starts to just after it was reaped: what the bound promises."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.started = 0

    def process_started(self) -> None:
        with self._lock:
            self.running += 1
            self.started += 1
            self.peak = max(self.peak, self.running)

    def process_ended(self) -> None:
        with self._lock:
            self.running -= 1

    def reset_peak(self) -> None:
        """Start measuring the peak again from what runs now."""
        with self._lock:
            self.peak = self.running


processes = ProcessCount()
