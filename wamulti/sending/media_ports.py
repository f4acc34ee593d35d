"""What the send path needs of the media store and of the conversions, as Protocols.

The media store (wamulti/media/, MediaLibrary) and the conversions (wamulti/transcoding/) are built
beside sending, not under it; the send path sees them only through these seams, so its tests use
named test doubles (tests/media_doubles.py), server.py hands in the real ones (`media_kit`), and
tests/test_e2e_media.py sends through the real ones end to end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import ContextManager, Protocol

STORED = "stored"  # the one MediaRecord status whose bytes can be sent


class StoredMedia(Protocol):
    """The fields of a MediaRecord the send path reads."""

    media_id: str
    client_id: str | None
    status: str
    sha256: str | None
    mimetype: str | None
    size: int | None
    file_name: str | None
    created_at: datetime


class MediaFiles(Protocol):
    """The part of MediaLibrary the send path calls (same names and signatures)."""

    def get(self, media_id: str) -> StoredMedia | None: ...

    def store_url(self, url: str, *, file_name: str | None, client_id: str | None, max_bytes: int,
                  timeout: float) -> StoredMedia: ...

    def local_path(self, media_id: str) -> ContextManager[Path]: ...

    def derived(self, media_id: str, variant: str, make: Callable[[Path, Path], dict]
                ) -> tuple[StoredMedia, dict]: ...


class Conversions(Protocol):
    """wamulti.transcoding's functions the send path uses (a module fits: its functions are its attributes)."""

    def voice_note(self, src: Path, dest: Path) -> dict: ...
    def sticker(self, src: Path, dest: Path) -> dict: ...
    def image_facts(self, src: Path) -> dict: ...
    def video_facts(self, src: Path) -> dict: ...
    def audio_seconds(self, src: Path) -> int: ...

