"""The media store's life cycle with real rows on SQLite and on real MariaDB: retention keeps what a
queued send or an undelivered event refers to (the references server.py wires), a deleted client's
media goes at the next prune, and the real library's size cap ends an incoming download too_large."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

from tests.conftest import wait_until
from tests.download_doubles import ScriptedDownloadSession
from tests.test_worker_hearing import RecordingSink
from wamulti.backends.backend_api import Media, MessageReceived
from wamulti.config import Settings
from wamulti.hearing.event_model import new_event_id
from wamulti.hearing.heard_events import Hearing
from wamulti.hearing.media_intake import MediaIntake, MediaPolicy
from wamulti.media.library import MediaLibrary
from wamulti.media.references import MediaReferences
from wamulti.sending.sender import new_message_id
from wamulti.store.client_rows import utcnow
from wamulti.store.event_rows import DELIVERED, PENDING, AttemptResult, EventRow
from wamulti.store.send_rows import OutboundRow
from wamulti.store.store_api import ClientRecord

LATER = timedelta(hours=73)  # past the default MEDIA_RETENTION_HOURS (72)
CONTENT = bytes(range(256)) * 4096  # 1 MiB


def library(store, tmp_path) -> MediaLibrary:
    return MediaLibrary.from_settings(Settings(api_key="k" * 16, data_dir=tmp_path / "data"), store)


def kept(media: MediaLibrary, text: str, client_id: str = "a") -> str:
    return media.store_stream(io.BytesIO(text.encode() * 100), file_name="f.txt", client_id=client_id,
                              max_bytes=1 << 20).media_id


def test_retention_keeps_media_of_a_queued_send_and_of_an_undelivered_event(store, tmp_path):
    store.create_client(ClientRecord("a", state="READY"))
    media = library(store, tmp_path)
    references = MediaReferences(store.media_ids_in_open_sends, store.media_ids_in_undelivered_events)
    queued, heard, loose = kept(media, "queued"), kept(media, "heard"), kept(media, "loose")
    send, _ = store.enqueue_send(OutboundRow(new_message_id(), "a", "+4915100000002", "", media_id=queued),
                                 10, utcnow() - timedelta(days=1))
    now = utcnow()
    event = EventRow(new_event_id(), "a", "message", "{}", PENDING, created_at=now, queued_at=now, next_at=now,
                     media_id=heard)
    store.add_events([event])
    assert media.prune(utcnow() + LATER, references) == 1
    assert [media.get(i) is not None for i in (queued, heard, loose)] == [True, True, False]
    with media.local_path(queued) as path:
        assert path.read_bytes() == b"queued" * 100, "its file is still there"
    store.set_send_state(send.message_id, "failed", reason="given up")
    token = "t"
    store.claim_events("a", token, 30.0)
    store.record_attempts("a", token, [AttemptResult(event.event_id, DELIVERED, finished_at=utcnow())], 30.0)
    assert media.prune(utcnow() + LATER, references) == 2
    assert media.get(queued) is None and media.get(heard) is None


def test_a_deleted_clients_media_is_the_admins_only_and_goes_at_the_next_prune(store, tmp_path):
    for client_id in ("a", "b"):
        store.create_client(ClientRecord(client_id, state="READY"))
    media = library(store, tmp_path)
    shared, own, others = kept(media, "same"), kept(media, "mine"), kept(media, "same", client_id="b")
    store.delete_client("a")
    assert media.get(own).client_id is None, "a client re-created as 'a' does not see them"
    assert media.prune(utcnow(), lambda ids: set()) == 2, "past retention at once"
    assert media.get(shared) is None and media.get(own) is None
    with media.local_path(others) as path:
        assert path.read_bytes() == b"same" * 100, "a file another client's record names stays"


def lying_message(size: int) -> MessageReceived:
    declared = Media("application/pdf", size, "a.pdf", kind="document", download=b"ref",
                     sha256=hashlib.sha256(CONTENT).hexdigest())
    return MessageReceived(message_id="3EB0LIE", chat="491522222222@s.whatsapp.net",
                           sender_jid="491522222222@s.whatsapp.net", sender_phone="491522222222", is_group=False,
                           from_me=False, push_name="Bea", kind="document", text=None, sent_at=utcnow(),
                           media=declared)


def test_more_bytes_than_declared_are_cut_off_by_the_real_store_and_end_too_large(store, tmp_path):
    """The backend (a named double) writes on past the cap; the library's capped sink stops it."""
    store.create_client(ClientRecord("a", state="READY"))
    media = library(store, tmp_path)
    intake = MediaIntake(media, store, MediaPolicy(max_bytes=len(CONTENT) // 2))
    sink = RecordingSink()
    try:
        Hearing("a", sink, media=intake, session_of=lambda: ScriptedDownloadSession(CONTENT)).heard(lying_message(10))
        wait_until(lambda: sink.of_type("message.media"))
    finally:
        intake.close()
    [outcome] = sink.of_type("message.media")
    assert outcome["media"]["status"] == "too_large" and "MEDIA_MAX_MB" in outcome["media"]["reason"]
    record = media.get(outcome["media"]["id"])
    assert (record.status, record.sha256) == ("too_large", None)
    assert not list((tmp_path / "data" / "media").rglob("*.part")), "nothing of it is kept"
