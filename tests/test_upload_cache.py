"""UploadCache and UploadGate: one upload per (file, kind) and client, shared by concurrent sends,
reused while valid, not remembered when it failed; the gate bounds uploads in the whole process."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import wait_until
from wamulti.backends.backend_api import SendFailed, UploadRef
from wamulti.sending.uploads import UploadCache, UploadGate


def ref(name: str) -> UploadRef:
    return UploadRef(f"https://mmg.example/{name}", f"/v/{name}", b"k" * 32, b"e" * 32, b"s" * 32, 10)


class SlowUploader:
    """Test double of a session's upload: waits for `release`, counts calls and the most at once."""

    def __init__(self):
        self.release = threading.Event()
        self.calls = 0
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(self) -> UploadRef:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        self.release.wait(5)
        with self._lock:
            self.running -= 1
        return ref(f"u{self.calls}")


def test_concurrent_sends_of_one_file_wait_for_one_upload():
    cache, upload = UploadCache(UploadGate(2)), SlowUploader()
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(cache.get, "abc", "image", upload) for _ in range(8)]
        wait_until(lambda: upload.calls == 1)
        time.sleep(0.05)
        upload.release.set()
        assert {f.result(5) for f in futures} == {ref("u1")}
    assert upload.calls == cache.uploaded == 1
    assert cache.get("abc", "document", upload) == ref("u2"), "another kind is another upload"


def test_a_failed_upload_fails_its_waiters_and_is_tried_again():
    cache, attempts = UploadCache(UploadGate(1)), []

    def failing():
        attempts.append(1)
        raise SendFailed("upload refused")

    with pytest.raises(SendFailed):
        cache.get("abc", "image", failing)
    assert cache.get("abc", "image", lambda: ref("ok")) == ref("ok") and len(attempts) == 1


def test_a_reference_is_reused_for_its_hours_then_uploaded_again():
    now = [0.0]
    cache = UploadCache(UploadGate(1), reuse_hours=1, clock=lambda: now[0])
    assert cache.get("abc", "image", lambda: ref("first")) == ref("first")
    now[0] = 3599
    assert cache.get("abc", "image", lambda: ref("second")) == ref("first")
    now[0] = 3601
    assert cache.get("abc", "image", lambda: ref("second")) == ref("second")


def test_the_gate_bounds_uploads_of_every_client_together():
    gate, upload = UploadGate(2), SlowUploader()
    caches = [UploadCache(gate) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(c.get, f"file{i}", "video", upload) for i, c in enumerate(caches)]
        wait_until(lambda: upload.running == 2)
        time.sleep(0.1)
        assert upload.calls == 2, "two wait at the gate"
        upload.release.set()
        [f.result(5) for f in futures]
    assert upload.calls == 4 and upload.most == 2
