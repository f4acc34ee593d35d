"""Test doubles for incoming media: `FakeMediaShelf` (the MediaShelf part of wamulti.media's
MediaLibrary, over a temp dir) and `ScriptedDownloadSession` (a backend session whose `download`
writes scripted bytes, fails, or waits), both named as the doubles they are."""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from wamulti.backends.backend_api import BackendSession, DownloadFailed
from wamulti.errors import MediaTooLarge


@dataclass(frozen=True)
class FakeMediaRecord:
    """Test double of wamulti.media.MediaRecord (the fields hearing reads)."""

    media_id: str
    client_id: str | None
    status: str
    sha256: str | None
    mimetype: str | None
    size: int | None
    file_name: str | None
    reason: str | None
    created_at: datetime


class _Counted:
    """A sink that refuses past max_bytes as the real library's temp file does (wamulti.media's CappedSink
    raises wamulti.errors.MediaTooLarge, not the backends' DownloadTooLarge)."""

    def __init__(self, file, max_bytes: int):
        self._file, self._max, self.written = file, max_bytes, 0

    def write(self, data) -> int:
        self.written += len(data)
        if self.written > self._max:
            raise MediaTooLarge(f"The file is larger than the limit of {self._max} bytes (MEDIA_MAX_MB).")
        return self._file.write(data)


class FakeMediaShelf:
    """Test double of the MediaShelf Protocol (hearing/media_intake.py) over a temp dir: records in a
    dict, bytes in files named by id; finish_download streams into a temp file, then hashes it."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.records: dict[str, FakeMediaRecord] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def begin_download(self, client_id, *, mimetype, size, file_name):
        with self._lock:
            media_id = f"m{next(self._ids):026d}"
            record = FakeMediaRecord(media_id, client_id, "pending", None, mimetype, size, file_name, None,
                                     datetime.now(timezone.utc).replace(tzinfo=None))
            self.records[media_id] = record
        return record

    def finish_download(self, media_id, write, *, max_bytes):
        temp = self.root / f"{media_id}.part"
        with open(temp, "wb") as file:
            write(_Counted(file, max_bytes))
        digest = hashlib.sha256(temp.read_bytes()).hexdigest()
        temp.rename(self.root / media_id)
        return self._set(media_id, status="stored", sha256=digest, size=(self.root / media_id).stat().st_size,
                         reason=None)

    def mark(self, media_id, status, reason):
        return self._set(media_id, status=status, reason=reason)

    def get(self, media_id):
        with self._lock:
            return self.records.get(media_id)

    def signed_url(self, media_id):
        return f"http://127.0.0.1:9/media/{media_id}?expires=1&sig=x"

    def backdate(self, media_id, created_at: datetime) -> None:
        self._set(media_id, created_at=created_at)

    def _set(self, media_id, **changes):
        with self._lock:
            self.records[media_id] = replace(self.records[media_id], **changes)
            return self.records[media_id]


class ScriptedDownloadSession(BackendSession):
    """Test double of a backend session for downloads only: `content` is written in 64 KiB pieces;
    `fail` (a reason) raises DownloadFailed; `gate` (an Event) makes each download wait for it.
    Counts the downloads running at once (`peak`) and the threads they ran on."""

    def __init__(self, content: bytes = b"", fail: str | None = None, gate: threading.Event | None = None,
                 hold: float = 0.0):
        self.content, self.fail, self.gate, self.hold = content, fail, gate, hold
        self.running = self.peak = self.calls = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def download(self, media, sink, max_bytes):
        with self._lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.threads.add(threading.current_thread().name)
        try:
            if self.gate is not None:
                self.gate.wait(10)
            elif self.hold:
                threading.Event().wait(self.hold)
            if self.fail:
                raise DownloadFailed(self.fail)
            for start in range(0, len(self.content), 65536):
                sink.write(self.content[start:start + 65536])
            return len(self.content)
        finally:
            with self._lock:
                self.running -= 1

    def connect(self):
        raise NotImplementedError

    def pair_phone(self, phone_digits):
        raise NotImplementedError

    def send_text(self, to_jid, text, message_id=None):
        raise NotImplementedError

    def lookup_phone(self, digits):
        raise NotImplementedError

    def logout(self):
        raise NotImplementedError

    def stop(self):
        pass
