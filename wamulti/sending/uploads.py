"""Upload once per client: a file sent to many chats is uploaded to WhatsApp once and its UploadRef
reused for every recipient while it is valid.

UploadCache (one per client, lasting across its runs) maps (sha256 of the bytes sent, kind) to the
UploadRef WhatsApp answered. Concurrent sends of the same file wait for one upload (single-flight);
a failed upload is not remembered (the next send tries again). An entry is reused for
MEDIA_UPLOAD_REUSE_HOURS (default 24): WhatsApp keeps uploaded media for weeks for recipients to
fetch, but nothing documents how long, and a reference that outlived it would send messages whose
file cannot be downloaded, with no error at send time; a day covers any broadcast and bounds that
risk. The cache holds at most MAX_ENTRIES references (the least recently used go first).

UploadGate bounds uploads under way in the whole process: neonize takes the file's bytes in memory
(it encrypts them in Go), so memory grows with each concurrent upload of a large file.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

from ..backends.backend_api import UploadRef

DEFAULT_REUSE_HOURS = 24.0
DEFAULT_UPLOADS_AT_ONCE = 2
MAX_ENTRIES = 512


class UploadGate:
    """At most `limit` uploads under way in the process (a semaphore, shared by every client)."""

    def __init__(self, limit: int = DEFAULT_UPLOADS_AT_ONCE):
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    def __enter__(self) -> "UploadGate":
        self._slots.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self._slots.release()


class UploadCache:
    """(sha256, kind) -> UploadRef for one client; `uploaded` counts the uploads it really made."""

    def __init__(self, gate: UploadGate, reuse_hours: float = DEFAULT_REUSE_HOURS,
                 clock: Callable[[], float] = time.monotonic):
        self._gate = gate
        self._reuse_seconds = reuse_hours * 3600
        self._clock = clock
        self._lock = threading.Lock()
        self._refs: OrderedDict[tuple[str, str], tuple[float, UploadRef]] = OrderedDict()
        self._flights: dict[tuple[str, str], Future] = {}
        self.uploaded = 0

    def get(self, sha256: str, kind: str, upload: Callable[[], UploadRef]) -> UploadRef:
        """The valid UploadRef for the bytes, uploading them (once, under the gate) if there is none."""
        key = (sha256, kind)
        with self._lock:
            held = self._refs.get(key)
            if held is not None and self._clock() - held[0] < self._reuse_seconds:
                self._refs.move_to_end(key)
                return held[1]
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = Future()
        if not leader:
            return flight.result()  # raises the leader's error: each waiting send fails with it
        try:
            with self._gate:
                ref = upload()
        except BaseException as exc:
            self._land(key, flight, None)
            flight.set_exception(exc)
            raise
        self._land(key, flight, ref)
        flight.set_result(ref)
        return ref

    def _land(self, key: tuple[str, str], flight: Future, ref: UploadRef | None) -> None:
        with self._lock:
            self._flights.pop(key, None)
            if ref is not None:
                self.uploaded += 1
                self._refs[key] = (self._clock(), ref)
                while len(self._refs) > MAX_ENTRIES:
                    self._refs.popitem(last=False)
