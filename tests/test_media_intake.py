"""Incoming media through Hearing and MediaIntake: the `message` event at once (pending, skipped,
too_large), the download on the bounded pool, the `message.media` follow-up, a retry after a failure.

The media store is `FakeMediaShelf` and the backend `ScriptedDownloadSession` (tests/download_doubles.py,
named test doubles); the media_sources rows go to a real SQLite store.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import wait_until
from tests.download_doubles import FakeMediaShelf, ScriptedDownloadSession
from tests.test_worker_hearing import RecordingSink, text_message
from wamulti.backends.backend_api import Media, MessageReceived
from wamulti.config import Settings
from wamulti.errors import Conflict, NotFound
from wamulti.hearing.heard_events import Hearing
from wamulti.hearing.media_intake import MediaIntake, MediaPolicy, media_json
from wamulti.store import open_store
from wamulti.store.store_api import ClientRecord

CONTENT = bytes(range(256)) * 4096  # 1 MiB
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    s = open_store(Settings(api_key="t" * 16, data_dir=tmp_path / "data"))
    s.create_client(ClientRecord("alice", state="READY"))
    yield s
    s.close()


@pytest.fixture
def shelf(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    return FakeMediaShelf(root)


@pytest.fixture
def make(store, shelf):
    """make(session, **policy) -> (hearing, sink, intake) for client alice."""
    made = []

    def build(session, stuck_after=900.0, **policy):
        intake = MediaIntake(shelf, store, MediaPolicy(**policy), stuck_after=stuck_after)
        made.append(intake)
        sink = RecordingSink()
        return Hearing("alice", sink, media=intake, session_of=lambda: session), sink, intake

    yield build
    for intake in made:
        intake.close()


def media_message(message_id="3EB0M1", kind="document", size=len(CONTENT), file_name="a.pdf") -> MessageReceived:
    media = Media("application/pdf", size, file_name, kind=kind, download=b"ref-" + message_id.encode(),
                  sha256=hashlib.sha256(CONTENT).hexdigest())
    return MessageReceived(message_id=message_id, chat="491522222222@s.whatsapp.net",
                           sender_jid="491522222222@s.whatsapp.net", sender_phone="491522222222", is_group=False,
                           from_me=False, push_name="Bea", kind=kind, text=None, sent_at=AT, media=media)


def test_the_message_event_is_pending_at_once_and_the_follow_up_says_stored(make, shelf, store):
    gate = threading.Event()
    hearing, sink, _ = make(ScriptedDownloadSession(CONTENT, gate=gate))
    hearing.heard(media_message())
    [event] = sink.of_type("message")  # published while the download still waits
    media = event["media"]
    assert (media["status"], media["kind"], media["fileName"], media["size"]) == ("pending", "document", "a.pdf",
                                                                                  len(CONTENT))
    assert media["url"] == shelf.signed_url(media["id"]) and sink.of_type("message.media") == []
    assert store.get_media_source(media["id"]).ref == b"ref-3EB0M1"
    gate.set()
    wait_until(lambda: sink.of_type("message.media"))
    [ended] = sink.of_type("message.media")
    assert (ended["messageId"], ended["chat"]) == ("3EB0M1", "491522222222@s.whatsapp.net")
    assert ended["media"]["status"] == "stored" and ended["media"]["id"] == media["id"]
    assert ended["media"]["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert (shelf.root / media["id"]).read_bytes() == CONTENT
    assert [t for _, t, _, _ in sink.published] == ["message", "message.media"]


def test_downloads_run_on_the_media_pool_never_on_the_hearing_thread(make):
    session = ScriptedDownloadSession(CONTENT)
    hearing, sink, _ = make(session)
    hearing.heard(media_message())
    wait_until(lambda: sink.of_type("message.media"))
    assert session.threads and all(name.startswith("wa-media") for name in session.threads)
    assert threading.current_thread().name not in session.threads


def test_a_kind_not_in_media_download_is_skipped_without_a_download(make):
    session = ScriptedDownloadSession(CONTENT)
    hearing, sink, _ = make(session, kinds=frozenset({"image"}))
    hearing.heard(media_message())
    [event] = sink.of_type("message")
    assert (event["media"]["status"], event["media"]["url"]) == ("skipped", None)
    assert "MEDIA_DOWNLOAD" in event["media"]["reason"]
    time.sleep(0.1)
    assert session.calls == 0 and sink.of_type("message.media") == []


def test_a_declared_size_over_the_cap_is_too_large_without_a_download(make):
    session = ScriptedDownloadSession(CONTENT)
    hearing, sink, _ = make(session, max_bytes=1000)
    hearing.heard(media_message())
    [event] = sink.of_type("message")
    assert event["media"]["status"] == "too_large" and "MEDIA_MAX_MB" in event["media"]["reason"]
    time.sleep(0.1)
    assert session.calls == 0


def test_more_bytes_than_declared_end_too_large(make):
    hearing, sink, _ = make(ScriptedDownloadSession(CONTENT), max_bytes=len(CONTENT) // 2)
    hearing.heard(media_message(size=100))  # the sender declared less than it sent
    wait_until(lambda: sink.of_type("message.media"))
    assert sink.of_type("message.media")[0]["media"]["status"] == "too_large"


def test_a_failed_download_is_published_and_a_retry_stores_it(make, shelf):
    session = ScriptedDownloadSession(CONTENT, fail="media gone from the CDN (404)")
    hearing, sink, _ = make(session)
    hearing.heard(media_message())
    wait_until(lambda: sink.of_type("message.media"))
    failed = sink.of_type("message.media")[0]["media"]
    assert (failed["status"], failed["reason"], failed["url"]) == ("failed", "media gone from the CDN (404)", None)
    session.fail = None
    answer = hearing.retry_media(failed["id"])
    assert (answer["status"], answer["id"], answer["messageId"], answer["clientId"]) == (
        "pending", failed["id"], "3EB0M1", "alice")
    wait_until(lambda: len(sink.of_type("message.media")) == 2)
    assert sink.of_type("message.media")[1]["media"]["status"] == "stored"
    assert (shelf.root / failed["id"]).read_bytes() == CONTENT
    with pytest.raises(Conflict):  # stored: nothing to retry
        hearing.retry_media(failed["id"])
    with pytest.raises(NotFound):
        hearing.retry_media("m_unknown")


def test_a_pending_download_is_retried_only_once_stuck_and_not_queued(make, shelf):
    gate = threading.Event()
    hearing, sink, _ = make(ScriptedDownloadSession(CONTENT, gate=gate), stuck_after=60.0)
    hearing.heard(media_message())
    media_id = sink.of_type("message")[0]["media"]["id"]
    shelf.backdate(media_id, datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=1))
    with pytest.raises(Conflict):  # still queued here: not stuck
        hearing.retry_media(media_id)
    gate.set()
    wait_until(lambda: sink.of_type("message.media"))
    # a process that died with it queued: a new intake over the same shelf and store
    shelf.mark(media_id, "pending", None)
    again, sink2, _ = make(ScriptedDownloadSession(CONTENT), stuck_after=60.0)
    assert again.retry_media(media_id)["status"] == "pending"
    wait_until(lambda: sink2.of_type("message.media"))


def test_at_most_the_concurrency_downloads_run_at_once(make):
    session = ScriptedDownloadSession(CONTENT, hold=0.05)
    hearing, sink, _ = make(session, concurrency=2)
    for n in range(10):
        hearing.heard(media_message(f"3EB0M{n}"))
    assert len(sink.of_type("message")) == 10  # every event out before the downloads are done
    wait_until(lambda: len(sink.of_type("message.media")) == 10, timeout=10)
    assert session.calls == 10 and session.peak == 2


def test_a_slow_download_does_not_delay_the_next_messages_event(make):
    gate = threading.Event()
    hearing, sink, _ = make(ScriptedDownloadSession(CONTENT, gate=gate), concurrency=1)
    started = time.monotonic()
    hearing.heard(media_message())
    hearing.heard(text_message("T1", "after the file"))
    elapsed = time.monotonic() - started
    assert [d["id"] for d in sink.of_type("message")] == ["3EB0M1", "T1"] and sink.of_type("message.media") == []
    assert elapsed < 1.0  # the download waits on its gate (10 s) meanwhile
    gate.set()
    wait_until(lambda: sink.of_type("message.media"))


def test_no_session_fails_the_download_with_a_reason(make):
    hearing, sink, _ = make(None)
    hearing.heard(media_message())
    wait_until(lambda: sink.of_type("message.media"))
    media = sink.of_type("message.media")[0]["media"]
    assert (media["status"], media["reason"]) == ("failed", "the client is not connected")


def test_without_a_media_store_media_is_skipped_and_nothing_is_retried():
    sink = RecordingSink()
    hearing = Hearing("alice", sink)
    hearing.heard(media_message())
    media = sink.of_type("message")[0]["media"]
    assert (media["status"], media["id"], media["kind"]) == ("skipped", None, "document")
    with pytest.raises(NotFound):
        hearing.retry_media("m1")


def test_a_muted_client_publishes_no_follow_up(make):
    gate = threading.Event()
    session = ScriptedDownloadSession(CONTENT, gate=gate)
    hearing, sink, _ = make(session)
    hearing.heard(media_message())
    hearing.mute()  # its client is being deleted
    gate.set()
    wait_until(lambda: session.calls == 1 and session.running == 0)
    time.sleep(0.1)
    assert sink.of_type("message.media") == []


def test_a_stored_type_is_the_sniffed_one_keeping_the_senders_parameters_only_when_it_agrees(shelf):
    record = shelf.finish_download(shelf.begin_download("alice", mimetype=None, size=None, file_name=None).media_id,
                                   lambda sink: sink.write(b"OggS"), max_bytes=100)
    sniffed = replace(record, mimetype="audio/ogg")
    voice = Media("audio/ogg; codecs=opus", 4, None, kind="voice")
    assert media_json("voice", sniffed, voice)["mimetype"] == "audio/ogg; codecs=opus"
    lying = Media("text/html; charset=utf-8", 4, None, kind="voice")
    assert media_json("voice", sniffed, lying)["mimetype"] == "audio/ogg"
    assert media_json("voice", None, voice)["mimetype"] == "audio/ogg; codecs=opus", "before the bytes: declared"
