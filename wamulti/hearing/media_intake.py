"""Incoming media: each attachment gets a media record, its download runs on a bounded pool, and a
`message.media` event tells how it ended.

- On the backend's thread (`take`), before the `message` event: a `pending` record and the source
  row a retry needs (two store writes), or a `skipped` / `too_large` record; no download. The
  `message` event is then published at once: a download never delays it (the bound is 0: the
  event does not wait for any part of a download).
- The download (`_run`) runs on the process-wide pool (MEDIA_DOWNLOAD_CONCURRENCY threads
  `wa-media_N`), never on the worker thread nor on the backend's: the backend streams the bytes into
  the media store's temp file (`finish_download(write)`), and its outcome is published as
  `message.media` through the client's Hearing (after the `message` event, in the same ordered
  delivery).
- A `failed` download, or one `pending` for PENDING_STUCK_SECONDS and not queued here (its process
  died), is downloaded again by `retry`.

The media store is reached through `MediaShelf`, the part of wamulti.media.MediaLibrary used here.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO, Callable, Protocol

from ..backends.backend_api import MEDIA_KINDS, BackendSession, DownloadFailed, DownloadTooLarge, Media, MessageReceived
from ..errors import Conflict, MediaTooLarge, NotFound
from ..store.media_source_rows import MediaSourceRow

log = logging.getLogger(__name__)

PENDING_STUCK_SECONDS = 900.0  # a pending download not queued in this process is retried after this
MIB = 1 << 20
RETRIABLE = ("failed", "pending")

SessionOf = Callable[[], "BackendSession | None"]  # the client's open session now (None: none)
Publish = Callable[[dict[str, Any]], None]  # publishes a `message.media` event's data for the client


class MediaRecordView(Protocol):
    """What is read of wamulti.media.MediaRecord."""

    media_id: str
    status: str
    sha256: str | None
    mimetype: str | None
    size: int | None
    file_name: str | None
    reason: str | None
    created_at: datetime


class MediaShelf(Protocol):
    """The subset of wamulti.media.MediaLibrary that hearing calls."""

    def begin_download(self, client_id: str, *, mimetype: str | None, size: int | None,
                       file_name: str | None) -> MediaRecordView: ...

    def finish_download(self, media_id: str, write: Callable[[BinaryIO], None], *,
                        max_bytes: int) -> MediaRecordView: ...

    def mark(self, media_id: str, status: str, reason: str | None) -> MediaRecordView: ...

    def get(self, media_id: str) -> MediaRecordView | None: ...

    def signed_url(self, media_id: str) -> str: ...


@dataclass(frozen=True)
class MediaPolicy:
    """Which kinds are downloaded, up to what size, how many at a time (MEDIA_DOWNLOAD, MEDIA_MAX_MB,
    MEDIA_DOWNLOAD_CONCURRENCY)."""

    kinds: frozenset[str] = frozenset(MEDIA_KINDS)
    max_bytes: int = 64 * MIB
    concurrency: int = 2

    @classmethod
    def from_settings(cls, settings) -> "MediaPolicy":
        return cls(frozenset(settings.media_download), settings.media_max_mb * MIB,
                   settings.media_download_concurrency)


def media_json(kind: str, record: MediaRecordView | None, declared: Media | None = None, *,
               status: str | None = None, reason: str | None = None, url: str | None = None) -> dict[str, Any]:
    """A message's `media` as events carry it (docs/events.md): the record's facts once it has them,
    the sender's declared ones before."""
    stored = record is not None and record.status == "stored"
    return {
        "kind": kind,
        "mimetype": _mimetype(record.mimetype if stored else None, declared.mimetype if declared else None),
        "size": (record.size if stored else None) or (declared.size if declared else None),
        "fileName": (record.file_name if record else None) or (declared.file_name if declared else None),
        "id": record.media_id if record else None,
        "sha256": (record.sha256 if stored else None) or (declared.sha256 if declared else None),
        "status": status or (record.status if record else "failed"),
        "url": url,
        "reason": reason if reason is not None else (record.reason if record else None),
    }


@dataclass(frozen=True)
class _Job:
    """One download: what it fetches, with which session, and where its outcome goes."""

    client_id: str
    media_id: str
    message_id: str
    chat: str
    media: Media
    session_of: SessionOf
    publish: Publish


class MediaIntake:
    """Process-wide: decides each attachment's fate, runs the downloads, publishes their outcomes."""

    def __init__(self, shelf: MediaShelf, store, policy: MediaPolicy | None = None, *,
                 stuck_after: float = PENDING_STUCK_SECONDS, now=lambda: datetime.now(timezone.utc)):
        self._shelf, self._store = shelf, store
        self.policy = policy or MediaPolicy()
        self._stuck_after, self._now = stuck_after, now
        self._pool = ThreadPoolExecutor(self.policy.concurrency, thread_name_prefix="wa-media")
        self._lock = threading.Lock()
        self._queued: set[str] = set()  # media ids queued or downloading in this process

    def close(self) -> None:
        """Stop taking downloads; queued ones are dropped (they stay pending: retriable later)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- the backend's thread ---------------------------------------------------------------------
    def take(self, client_id: str, message: MessageReceived, session_of: SessionOf,
             publish: Publish) -> tuple[dict[str, Any], Callable[[], None]]:
        """The `media` of the message's event, and what starts its download once the event is out."""
        media = message.media
        kind = media.kind or message.kind
        try:
            record = self._shelf.begin_download(client_id, mimetype=media.mimetype, size=media.size,
                                                file_name=media.file_name)
            if kind not in self.policy.kinds:
                record = self._shelf.mark(record.media_id, "skipped", f"{kind} is not in MEDIA_DOWNLOAD")
                return media_json(kind, record, media), no_download
            if media.size is not None and media.size > self.policy.max_bytes:
                record = self._shelf.mark(record.media_id, "too_large", _over(media.size, self.policy.max_bytes))
                return media_json(kind, record, media), no_download
            self._store.save_media_source(MediaSourceRow(record.media_id, client_id, message.message_id,
                                                         message.chat, kind, media.download, _naive(self._now())))
            url = self._shelf.signed_url(record.media_id)
        except Exception:  # the store is down, or the client was deleted meanwhile: the message still goes out
            log.warning("[%s] no media record for message %s", client_id, message.message_id, exc_info=True)
            return media_json(kind, None, media, status="failed", reason="media store unavailable"), no_download
        job = _Job(client_id, record.media_id, message.message_id, message.chat, media, session_of, publish)
        return media_json(kind, record, media, url=url), lambda: self._submit(job)

    # ---- a request thread ------------------------------------------------------------------------
    def source(self, media_id: str) -> MediaSourceRow | None:
        """Where an incoming media came from (None: not incoming, or unknown)."""
        return self._store.get_media_source(media_id)

    def retry(self, media_id: str, session_of: SessionOf, publish: Publish) -> dict[str, Any]:
        """Download a failed (or stuck pending) incoming media again; its `media` JSON, now pending.
        NotFound for an unknown id, Conflict when its status leaves nothing to retry."""
        source, record = self._store.get_media_source(media_id), self._shelf.get(media_id)
        if source is None or record is None:
            raise NotFound(f"No media with id '{media_id}'.")
        if record.status not in RETRIABLE or (record.status == "pending" and not self._stuck(record)):
            raise Conflict(f"Media '{media_id}' is {record.status}: only a failed download (or one pending "
                           f"for {self._stuck_after:g} s) is retried.")
        record = self._shelf.mark(media_id, "pending", None)
        declared = Media(record.mimetype, record.size, record.file_name, kind=source.kind, download=source.ref)
        self._submit(_Job(source.client_id, media_id, source.message_id, source.chat, declared, session_of, publish))
        return {**media_json(source.kind, record, declared, url=self._shelf.signed_url(media_id)),
                "clientId": source.client_id, "messageId": source.message_id, "chat": source.chat}

    def _stuck(self, record: MediaRecordView) -> bool:
        with self._lock:
            if record.media_id in self._queued:
                return False
        created = record.created_at.replace(tzinfo=record.created_at.tzinfo or timezone.utc)
        return self._now() - created >= timedelta(seconds=self._stuck_after)

    # ---- the pool --------------------------------------------------------------------------------
    def _submit(self, job: _Job) -> None:
        with self._lock:
            self._queued.add(job.media_id)
        try:
            self._pool.submit(self._run, job)
        except RuntimeError:  # closed: shutting down; the record stays pending (retriable)
            with self._lock:
                self._queued.discard(job.media_id)

    def _run(self, job: _Job) -> None:
        """One download on a pool thread; its outcome is recorded and published, whatever happens."""
        try:
            record, reason = self._download(job), None
        except (DownloadTooLarge, MediaTooLarge) as exc:  # the backend's own check, or the store's capped sink
            record, reason = self._mark(job, "too_large", str(exc)), str(exc)
        except DownloadFailed as exc:
            record, reason = self._mark(job, "failed", str(exc) or "download failed"), str(exc) or "download failed"
        except Exception:
            log.exception("[%s] the download of media %s crashed", job.client_id, job.media_id)
            record, reason = self._mark(job, "failed", "internal error"), "internal error"
        finally:
            with self._lock:
                self._queued.discard(job.media_id)
        self._publish_outcome(job, record, reason)

    def _download(self, job: _Job) -> MediaRecordView:
        session = job.session_of()
        if session is None:
            raise DownloadFailed("the client is not connected")
        max_bytes = self.policy.max_bytes
        return self._shelf.finish_download(job.media_id, lambda sink: session.download(job.media, sink, max_bytes),
                                           max_bytes=max_bytes)

    def _mark(self, job: _Job, status: str, reason: str) -> MediaRecordView | None:
        try:
            return self._shelf.mark(job.media_id, status, reason)
        except Exception:
            log.warning("[%s] media %s could not be marked %s", job.client_id, job.media_id, status, exc_info=True)
            return None

    def _publish_outcome(self, job: _Job, record: MediaRecordView | None, reason: str | None) -> None:
        kind = job.media.kind
        if record is None:
            media = media_json(kind, None, job.media, status="failed", reason=reason)
            media["id"] = job.media_id
        else:
            url = self._shelf.signed_url(job.media_id) if record.status == "stored" else None
            media = media_json(kind, record, job.media, url=url)
        try:
            job.publish({"messageId": job.message_id, "chat": job.chat, "media": media})
        except Exception:
            log.exception("[%s] the outcome of media %s was not published", job.client_id, job.media_id)


def _mimetype(sniffed: str | None, declared: str | None) -> str | None:
    """The sniffed type; the sender's when it is the same type with parameters (a voice note's
    `audio/ogg; codecs=opus`, sniffed as `audio/ogg`)."""
    if sniffed and declared and declared.split(";", 1)[0].strip().lower() == sniffed.lower():
        return declared
    return sniffed or declared


def no_download() -> None:
    """What starts the download of an attachment that is not downloaded."""
    return None


def _over(size: int, max_bytes: int) -> str:
    return f"{size} bytes declared, over MEDIA_MAX_MB ({max_bytes // MIB} MiB)"


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)
