"""Named test doubles of the media store and the conversions, as the send path sees them
(wamulti/sending/media_ports.py): FakeMediaFiles keeps files in a temp dir; FakeConversions makes
trivial but well-formed outputs and counts its calls. The real MediaLibrary and wamulti.transcoding
are built and tested on their own branches."""

from __future__ import annotations

import hashlib
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from wamulti.errors import DomainError, NotFound, Upstream

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


@dataclass(frozen=True)
class FakeRecord:
    """Test double of MediaRecord (same fields)."""

    media_id: str
    client_id: str | None
    status: str
    sha256: str | None
    mimetype: str | None
    size: int | None
    file_name: str | None
    reason: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(tzinfo=None))


class FakeMediaFiles:
    """Test double of MediaLibrary's get/store_url/local_path/derived over a temp dir.

    `urls` maps a URL to the bytes it "serves" (any other URL fails like an unreachable one);
    `fetched` lists the URLs fetched, `derivations` the (media_id, variant) conversions made."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._records: dict[str, FakeRecord] = {}
        self._derived: dict[tuple[str, str], tuple[FakeRecord, dict]] = {}
        self._lock = threading.Lock()
        self.urls: dict[str, bytes] = {}
        self.fetched: list[str] = []
        self.derivations: list[tuple[str, str]] = []

    def add(self, data: bytes, client_id: str | None, *, mimetype: str = "application/octet-stream",
            file_name: str | None = None, status: str = "stored") -> FakeRecord:
        media_id = "m" + secrets.token_hex(13)
        (self.root / media_id).write_bytes(data)
        record = FakeRecord(media_id, client_id, status, hashlib.sha256(data).hexdigest(), mimetype, len(data),
                            file_name)
        with self._lock:
            self._records[media_id] = record
        return record

    def get(self, media_id: str) -> FakeRecord | None:
        with self._lock:
            return self._records.get(media_id)

    def store_url(self, url, *, file_name, client_id, max_bytes, timeout) -> FakeRecord:
        self.fetched.append(url)
        if url not in self.urls:
            raise Upstream("The URL could not be fetched.")
        return self.add(self.urls[url], client_id, file_name=file_name)

    @contextmanager
    def local_path(self, media_id: str):
        if self.get(media_id) is None:
            raise NotFound(f"No media with id '{media_id}'.")
        yield self.root / media_id

    def derived(self, media_id: str, variant: str, make) -> tuple[FakeRecord, dict]:
        with self._lock:
            if (media_id, variant) in self._derived:
                return self._derived[(media_id, variant)]
        dest = self.root / f"{media_id}.{variant}"
        facts = make(self.root / media_id, dest)
        record = self.add(dest.read_bytes(), self.get(media_id).client_id, mimetype=facts.get("mimetype"))
        with self._lock:
            self.derivations.append((media_id, variant))
            self._derived[(media_id, variant)] = (record, facts)
        return record, facts


class FakeConversionFailed(DomainError):
    """Test double of transcoding.ConversionFailed."""


class FakeConversions:
    """Test double of wamulti.transcoding: fixed facts, output files that start like the real formats;
    a kind in `failing` raises FakeConversionFailed."""

    def __init__(self, failing: frozenset[str] = frozenset()):
        self.failing = failing
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.failing:
            raise FakeConversionFailed(f"The file could not be converted ({name}): not a readable media file.")

    def voice_note(self, src: Path, dest: Path) -> dict:
        self._call("voice_note")
        dest.write_bytes(b"OggS\x00\x02" + b"OpusHead" + src.read_bytes()[:64])
        return {"mimetype": "audio/ogg; codecs=opus", "seconds": 3, "waveform": [i % 101 for i in range(0, 128, 2)]}

    def sticker(self, src: Path, dest: Path) -> dict:
        self._call("sticker")
        body = b"WEBPVP8 " + src.read_bytes()[:64]
        dest.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
        return {"mimetype": "image/webp", "width": 512, "height": 512}

    def image_facts(self, src: Path) -> dict:
        self._call("image_facts")
        return {"width": 640, "height": 480, "thumbnail": JPEG}

    def video_facts(self, src: Path) -> dict:
        self._call("video_facts")
        return {"width": 1280, "height": 720, "seconds": 12, "thumbnail": JPEG}

    def audio_seconds(self, src: Path) -> int:
        self._call("audio_seconds")
        return 7

