"""A row's payload made into what the backend sends, on the send thread: a reply's quoted message,
and for media the conversion WhatsApp needs, the facts its message carries and the upload.

Per kind: a voice note becomes OGG/Opus (the media store's derived "voice", made once and kept) with
its seconds and 64-sample waveform; a sticker a 512x512 WebP (derived "sticker"); an image gets its
size and thumbnail, a video those and its seconds, an audio its seconds; a document keeps its
(sanitised) file name and the sniffed mimetype. Conversions are bounded by the conversions
themselves (TRANSCODE_CONCURRENCY); uploads by the kit's UploadGate. A failed conversion fails the
send with its reason: nothing goes out.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from ..backends.backend_api import (BackendSession, ContactOut, LocationOut, MediaOut, Outgoing, QuotedRef, TextOut,
                                    UploadRef)
from ..errors import DomainError, Upstream
from ..store.send_rows import GONE_OUT, OutboundStore
from .action_sends import ActionTargets, Author
from .media_kit import MediaKit
from .media_ports import STORED, StoredMedia
from .payloads import MediaChoice, from_payload

DERIVED = {"voice": "voice_note", "sticker": "sticker"}  # kinds sent as a conversion of the stored file
FALLBACK_MIMETYPE = "application/octet-stream"
CHUNK = 1 << 20
KNOWN_FACTS = 64  # files whose facts a client keeps (a thumbnail is a few KB)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Preparation:
    """One client's: its upload cache lasts as long as the client (across runs)."""

    def __init__(self, client_id: str, kit: MediaKit, store: OutboundStore, own_jid: Callable[[], str | None],
                 author: Author | None = None):
        self._client_id = client_id
        self.actions = ActionTargets(client_id, store, author)  # reactions, edits, revokes, read marks
        self._kit = kit
        self._store = store
        self._own_jid = own_jid
        self.uploads = kit.upload_cache()
        self._lock = threading.Lock()
        self._known_facts: OrderedDict[tuple[str, str], dict] = OrderedDict()

    def outgoing(self, session: BackendSession, payload: str, chat: str) -> Outgoing:
        """What to send to `chat` for the row's payload; Upstream (or a ConversionFailed) if it cannot be."""
        request = from_payload(payload)
        reply = self._quoted(request.reply_to, chat) if request.reply_to else None
        if request.location is not None:
            place = request.location
            return LocationOut(place.lat, place.lng, place.name, place.address, reply_to=reply)
        if request.contact is not None:
            return ContactOut(request.contact.display_name, request.contact.vcard, reply_to=reply)
        if request.media is not None:
            return self._media(session, request.media, reply)
        return TextOut(request.text or "", reply_to=reply)

    def _quoted(self, reply_to: str, chat: str) -> QuotedRef:
        """wamulti's messageId: that send as WhatsApp knows it; else WhatsApp's id as given, quoted as
        the chat's (in a 1:1 chat the other person; in a group the sender is not known: see docs/api.md)."""
        ours = self._store.get_send(reply_to)
        if ours is not None and ours.client_id == self._client_id:
            if ours.state not in GONE_OUT or not ours.wa_message_id:
                raise Upstream(f"The message replied to ({reply_to}) was not sent, so it cannot be quoted; "
                               "nothing was sent.")
            return QuotedRef(ours.wa_message_id, self._own_jid() or "", ours.chat or chat, ours.body or None)
        sender = "" if chat.endswith("@g.us") else chat
        return QuotedRef(reply_to, sender, chat)

    def _media(self, session: BackendSession, media: MediaChoice, reply: QuotedRef | None) -> MediaOut:
        files, conversions = self._kit.files, self._kit.conversions
        if files is None or conversions is None:
            raise Upstream("Media cannot be sent: this server has no media store or conversions configured.")
        record = files.get(media.media_id or "")
        if record is None or record.status != STORED:
            raise Upstream(f"The media '{media.media_id}' is no longer stored; nothing was sent.")
        try:
            record, facts = self._converted(record, media.kind)
        except DomainError as exc:  # e.g. ConversionFailed: the send fails with its reason
            if isinstance(exc, Upstream):
                raise
            raise Upstream(f"The {media.kind} could not be prepared: {exc.message} Nothing was sent.") from None
        upload = self._upload(session, record, media.kind)
        return MediaOut(
            kind=media.kind, upload=upload, reply_to=reply,
            mimetype=facts.get("mimetype") or record.mimetype or FALLBACK_MIMETYPE,
            caption=media.caption if media.kind not in ("voice", "audio", "sticker") else None,
            file_name=(media.file_name or record.file_name or "file") if media.kind == "document" else None,
            seconds=facts.get("seconds"), width=facts.get("width"), height=facts.get("height"),
            thumbnail=facts.get("thumbnail"),
            waveform=bytes(facts["waveform"]) if facts.get("waveform") is not None else None)

    def _converted(self, record: StoredMedia, kind: str) -> tuple[StoredMedia, dict]:
        """The file to send (a voice note or sticker: its conversion, made once) and its facts."""
        if kind in DERIVED:
            return self._kit.files.derived(record.media_id, kind, getattr(self._kit.conversions, DERIVED[kind]))
        if kind in ("image", "video", "audio"):
            return record, self._facts(record, kind)
        return record, {}

    def _facts(self, record: StoredMedia, kind: str) -> dict:
        """An image's, video's or audio's facts, made once per file for this client (a broadcast makes
        one thumbnail, not one per recipient)."""
        key = (record.sha256 or record.media_id, kind)
        with self._lock:
            if key in self._known_facts:
                self._known_facts.move_to_end(key)
                return self._known_facts[key]
        conversions = self._kit.conversions
        with self._kit.files.local_path(record.media_id) as path:
            if kind == "image":
                facts = conversions.image_facts(path)
            elif kind == "video":
                facts = conversions.video_facts(path)
            else:
                facts = {"seconds": conversions.audio_seconds(path)}
        with self._lock:
            self._known_facts[key] = facts
            while len(self._known_facts) > KNOWN_FACTS:
                self._known_facts.popitem(last=False)
        return facts

    def _upload(self, session: BackendSession, record: StoredMedia, kind: str) -> UploadRef:
        """The file uploaded once for this client (the cache); the bytes read from the stored file."""
        def upload() -> UploadRef:
            with self._kit.files.local_path(record.media_id) as path:
                return session.upload(path, kind)

        sha256 = record.sha256
        if sha256 is None:
            with self._kit.files.local_path(record.media_id) as path:
                sha256 = file_sha256(path)
        return self.uploads.get(sha256, kind, upload)
