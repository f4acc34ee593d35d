"""MediaLibrary: the one way the routes, sending and hearing store, read, convert and link media.

A record is a row in the store (per upload, download or conversion); its bytes are a blob named by
their sha256 (one blob for any number of records with the same bytes). A record is `pending` while
its bytes are on their way, `stored` once they are kept, else `too_large`, `skipped` or `failed`
with a reason. The type is always sniffed from the bytes.
"""

from __future__ import annotations

import base64
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from ..destinations.policy import DestinationPolicy
from ..errors import DomainError, InvalidField, MediaTooLarge, NotFound
from ..randomness import random_bytes
from ..store.client_rows import utcnow
from ..store.media_rows import DerivedExists, MediaRow
from .blob_stores import BlobStore, open_blob_store
from .file_names import sanitise
from .intake import CappedSink, Spooled, copy_stream, spool
from .links import LinkSigner, link_secret
from .retention import prune_records
from .sniffing import sniff
from .url_fetch import UrlFetcher

log = logging.getLogger(__name__)

MEDIA_STATUSES = ("stored", "pending", "too_large", "skipped", "failed")
STORED, PENDING, TOO_LARGE, SKIPPED, FAILED = MEDIA_STATUSES
UNCAPPED = 1 << 62  # a conversion's output: its input was capped already
DERIVED_WAIT = 600.0  # seconds a conversion another thread claimed may take before it counts as dead
DERIVED_POLL = 0.2


@dataclass(frozen=True)
class MediaRecord:
    media_id: str  # opaque, URL-safe: "m" + 26 lowercase base32 characters (random per record)
    client_id: str | None  # the client it belongs to (an admin key's upload may have none)
    status: str  # one of MEDIA_STATUSES
    sha256: str | None  # hex; None until stored
    mimetype: str | None  # sniffed from the bytes once stored (libmagic), never the caller's word
    size: int | None
    file_name: str | None  # sanitised
    reason: str | None  # why failed / skipped / too_large
    created_at: datetime  # naive UTC


def new_media_id() -> str:
    return "m" + base64.b32encode(random_bytes(16)).decode("ascii").rstrip("=").lower()


def is_media_id(text: str) -> bool:
    """Whether `text` has the shape of a media id (anything else is no such record)."""
    return len(text) == 27 and text[0] == "m" and all(c in "abcdefghijklmnopqrstuvwxyz234567" for c in text[1:])


def _record(row: MediaRow) -> MediaRecord:
    return MediaRecord(row.media_id, row.client_id, row.status, row.sha256, row.mimetype, row.size,
                       row.file_name, row.reason, row.created_at)


class MediaLibrary:
    """Thread-safe; built once (server.py) from the store, a blob store, a link signer and a fetcher."""

    def __init__(self, store, blobs: BlobStore, links: LinkSigner, fetcher: UrlFetcher | None = None,
                 retention_hours: float = 72):
        self._store, self._blobs, self._links = store, blobs, links
        self._fetcher = fetcher or UrlFetcher()
        self.retention_hours = retention_hours

    @classmethod
    def from_settings(cls, settings, store, destinations: DestinationPolicy | None = None) -> "MediaLibrary":
        """MEDIA_STORE's blobs, links signed for PUBLIC_URL with MEDIA_URL_TTL, URLs fetched under the
        destination policy (WEBHOOK_ALLOW_NETWORKS opens ranges, as for webhooks)."""
        blobs = open_blob_store(settings.media_store, settings.data_dir)
        links = LinkSigner(link_secret(settings.media_link_secret, settings.data_dir), settings.public_base,
                           settings.media_url_ttl)
        fetcher = UrlFetcher(destinations or DestinationPolicy(settings.webhook_allow_networks))
        return cls(store, blobs, links, fetcher, settings.media_retention_hours)

    # ---- intake ------------------------------------------------------------------------------
    def store_stream(self, stream: BinaryIO, *, file_name: str | None, client_id: str | None,
                     max_bytes: int) -> MediaRecord:
        """Keep what `stream` holds as a new stored record; MediaTooLarge past `max_bytes` (nothing kept)."""
        spooled = spool(copy_stream(stream), self._blobs.spool_dir, max_bytes)
        return self._keep_new(spooled, file_name, client_id)

    def store_url(self, url: str, *, file_name: str | None, client_id: str | None, max_bytes: int,
                  timeout: float) -> MediaRecord:
        """Fetch `url` under the destination policy and keep it; the name defaults to the URL's last part."""
        spooled = spool(lambda sink: self._fetcher.fetch(url, sink, timeout), self._blobs.spool_dir, max_bytes)
        name = file_name or unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or None
        return self._keep_new(spooled, name, client_id)

    def begin_download(self, client_id: str, *, mimetype: str | None, size: int | None,
                       file_name: str | None) -> MediaRecord:
        """A `pending` record for incoming media whose bytes are still to come (mimetype: the sender's word
        until the bytes are sniffed)."""
        row = MediaRow(new_media_id(), client_id, PENDING, None, mimetype, size, sanitise(file_name), None, utcnow())
        self._store.add_media(row)
        return _record(row)

    def finish_download(self, media_id: str, write: Callable[[BinaryIO], None], *, max_bytes: int) -> MediaRecord:
        """Stream the bytes with `write(sink)` and mark the record stored (too_large past `max_bytes`,
        failed when `write` raises anything else, which is raised again)."""
        row = self._row(media_id)
        try:
            spooled = spool(write, self._blobs.spool_dir, max_bytes)
        except MediaTooLarge as exc:
            self.mark(media_id, TOO_LARGE, exc.message)
            raise
        except Exception as exc:
            said = exc.message if isinstance(exc, DomainError) else f"download failed ({type(exc).__name__})"
            self.mark(media_id, FAILED, said)
            raise
        return self._keep(spooled, row)

    def mark(self, media_id: str, status: str, reason: str | None) -> MediaRecord:
        """Set a record's status (too_large, skipped, failed, or pending again for a retry)."""
        if status not in MEDIA_STATUSES or status == STORED:
            raise ValueError(f"mark() takes one of {MEDIA_STATUSES[1:]}, not {status!r}")
        row = self._row(media_id)
        changed = MediaRow(row.media_id, row.client_id, status, row.sha256, row.mimetype, row.size, row.file_name,
                           reason, row.created_at, row.source_id, row.variant, row.facts)
        self._store.update_media(changed)
        return _record(changed)

    # ---- reading -----------------------------------------------------------------------------
    def get(self, media_id: str) -> MediaRecord | None:
        row = self._store.get_media(media_id) if is_media_id(media_id) else None
        return None if row is None else _record(row)

    def chunks(self, record: MediaRecord) -> Iterator[bytes]:
        """A stored record's bytes, a chunk at a time (a file answer streams these)."""
        if record.status != STORED or record.sha256 is None:
            raise NotFound(f"Media '{record.media_id}' has no stored file.")
        return self._blobs.chunks(record.sha256)

    def blob_file(self, record: MediaRecord) -> Path | None:
        """A stored record's blob as a local file the server may send as it is (None: stream chunks())."""
        if record.status != STORED or record.sha256 is None:
            raise NotFound(f"Media '{record.media_id}' has no stored file.")
        return self._blobs.file_path(record.sha256)

    @contextmanager
    def local_path(self, media_id: str) -> Iterator[Path]:
        """The stored bytes as a local file for the `with` block (S3: a temp copy)."""
        row = self._row(media_id)
        if row.status != STORED or row.sha256 is None:
            raise NotFound(f"Media '{media_id}' has no stored file.")
        with self._blobs.local_copy(row.sha256) as path:
            yield path

    def signed_url(self, media_id: str) -> str:
        """PUBLIC_URL/media/<id>?expires=..&sig=.. valid for MEDIA_URL_TTL."""
        return self._links.url(media_id)

    def link_valid(self, media_id: str, expires: str | None, sig: str | None) -> bool:
        return self._links.valid(media_id, expires, sig)

    # ---- conversions -------------------------------------------------------------------------
    def derived(self, media_id: str, variant: str, make: Callable[[Path, Path], dict]) -> tuple[MediaRecord, dict]:
        """The stored conversion `variant` of a stored file, made once with make(src, dest) -> facts and
        kept; later calls return the kept record and facts without calling `make`. While another thread
        (or instance) makes it, this waits for theirs (at most DERIVED_WAIT seconds, then takes over)."""
        deadline = time.monotonic() + DERIVED_WAIT
        while True:
            found = self._store.derived_media(media_id, variant)
            if found is not None and found.status == STORED:
                return _record(found), json.loads(found.facts or "{}")
            if found is None or time.monotonic() > deadline:  # none yet, or its maker died: ours to make
                if found is not None:
                    self._store.delete_media([found.media_id])
                made = self._make_derived(media_id, variant, make)
                if made is not None:
                    return made
            time.sleep(DERIVED_POLL)

    def _make_derived(self, media_id: str, variant: str, make) -> tuple[MediaRecord, dict] | None:
        """Claim the variant with a pending row, make it and keep it; None if another claimed it first."""
        source = self._row(media_id)
        claim = MediaRow(new_media_id(), source.client_id, PENDING, None, None, None, source.file_name, None,
                         utcnow(), media_id, variant)
        try:
            self._store.add_media(claim)
        except DerivedExists:
            return None
        try:
            with self.local_path(media_id) as src, tempfile.TemporaryDirectory(dir=self._blobs.spool_dir) as work:
                dest = Path(work) / "out"
                facts = make(src, dest)
                with dest.open("rb") as made:
                    spooled = spool(copy_stream(made), self._blobs.spool_dir, UNCAPPED)
        except BaseException:
            self._store.delete_media([claim.media_id])  # the next caller tries again
            raise
        kept = MediaRow(claim.media_id, claim.client_id, PENDING, spooled.sha256, None, None, claim.file_name, None,
                        claim.created_at, media_id, variant, json.dumps(facts, default=str))
        return self._keep(spooled, kept), facts

    # ---- retention ---------------------------------------------------------------------------
    def prune(self, now: datetime, is_referenced: Callable[[list[str]], set[str]], batch: int = 500) -> int:
        """Delete up to `batch` records created over MEDIA_RETENTION_HOURS before `now` that `is_referenced`
        does not name (a conversion stays with its source), and the blobs no record names any more;
        how many records were deleted."""
        return prune_records(self._store, self._blobs, now - timedelta(hours=self.retention_hours), is_referenced,
                             batch)

    # ---- parts -------------------------------------------------------------------------------
    def _row(self, media_id: str) -> MediaRow:
        row = self._store.get_media(media_id) if is_media_id(media_id) else None
        if row is None:
            raise NotFound(f"No media with id '{media_id[:40]}'.")
        return row

    def _keep_new(self, spooled: Spooled, file_name: str | None, client_id: str | None) -> MediaRecord:
        if spooled.size == 0:  # nothing to send or keep: refused before a record exists
            spooled.path.unlink(missing_ok=True)
            raise InvalidField("file", "The file is empty (0 bytes).")
        row = MediaRow(new_media_id(), client_id, PENDING, spooled.sha256, None, None, sanitise(file_name), None,
                       utcnow())
        try:
            self._store.add_media(row)  # first: a prune looking at this sha256 now sees it in use
        except BaseException:
            spooled.path.unlink(missing_ok=True)
            raise
        return self._keep(spooled, row)

    def _keep(self, spooled: Spooled, row: MediaRow) -> MediaRecord:
        """Sniff the spooled file, move it into the blobs, and mark the row stored."""
        try:
            mimetype = sniff(spooled.path)
            self._blobs.put(spooled.sha256, spooled.path)
        finally:
            spooled.path.unlink(missing_ok=True)
        stored = MediaRow(row.media_id, row.client_id, STORED, spooled.sha256, mimetype, spooled.size, row.file_name,
                          None, row.created_at, row.source_id, row.variant, row.facts)
        self._store.update_media(stored)
        return _record(stored)


__all__ = ["MEDIA_STATUSES", "CappedSink", "MediaLibrary", "MediaRecord", "is_media_id", "new_media_id"]
