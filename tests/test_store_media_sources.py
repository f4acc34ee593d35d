"""Incoming media's origins (media_sources) and the events' media_id column (migration 9), on SQLite
and on real MariaDB; and the media_id an event gets from what it carries, through the real EventLog."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from wamulti.errors import NotFound
from wamulti.hearing.event_log import EventLog
from wamulti.hearing.event_model import EventType, new_event_id
from wamulti.hearing.webhook_directory import WebhookConfig, WebhookDirectory
from wamulti.store.client_rows import utcnow
from wamulti.store.event_rows import DELIVERED, NONE, PENDING, AttemptResult, EventRow
from wamulti.store.media_source_rows import ID_BATCH, MediaSourceRow
from wamulti.store.store_api import ClientRecord

REF = bytes(range(256)) * 40  # a serialized protobuf: any byte, 10 KiB


def event(client_id: str, media_id: str | None, delivery: str = PENDING) -> EventRow:
    now = utcnow()
    return EventRow(new_event_id(), client_id, "message", "{}", delivery, created_at=now, queued_at=now, next_at=now,
                    media_id=media_id)


def test_a_media_source_reads_back_as_written_and_goes_with_its_client(store):
    store.create_client(ClientRecord("a", state="READY"))
    now = utcnow().replace(microsecond=123456)
    row = MediaSourceRow("m" + "a" * 26, "a", "3EB0ABC", "491511234567@s.whatsapp.net", "voice", REF, now)
    store.save_media_source(row)
    assert store.get_media_source(row.media_id) == row
    store.save_media_source(replace(row, media_id="m2", ref=None))
    assert store.get_media_source("m2").ref is None and store.get_media_source("m_none") is None
    store.delete_client("a")
    assert store.get_media_source(row.media_id) is None, "deleted with its client"


def test_a_media_source_of_an_unknown_client_is_not_found(store):
    with pytest.raises(NotFound):
        store.save_media_source(MediaSourceRow("m1", "ghost", "X", "c", "image", b"r", utcnow()))


def test_media_sources_are_deleted_by_id(store):
    store.create_client(ClientRecord("a", state="READY"))
    for n in range(3):
        store.save_media_source(MediaSourceRow(f"m{n}", "a", "X", "c", "image", b"r", utcnow()))
    assert store.delete_media_sources(["m0", "m2", "m_none"]) == 2
    assert [store.get_media_source(f"m{n}") is not None for n in range(3)] == [False, True, False]


def test_only_media_of_events_still_pending_count_as_referred_to(store):
    store.create_client(ClientRecord("a", state="READY"))
    pending, delivered, unhooked = event("a", "m_pending"), event("a", "m_delivered"), event("a", "m_none", NONE)
    store.add_events([pending, delivered, unhooked, event("a", None), event("a", "m_pending")])
    token = "tok"
    store.claim_events("a", token, 30.0)
    store.record_attempts("a", token, [AttemptResult(pending.event_id, DELIVERED, finished_at=utcnow())], 30.0)
    # the first m_pending event was delivered; the second still waits
    asked = ["m_pending", "m_delivered", "m_none", "m_other"]
    assert store.media_ids_in_undelivered_events(asked) == {"m_pending", "m_delivered"}
    store.claim_events("a", token, 30.0)
    store.record_attempts("a", token, [AttemptResult(delivered.event_id, DELIVERED, finished_at=utcnow())], 30.0)
    assert store.media_ids_in_undelivered_events(asked) == {"m_pending"}
    assert store.media_ids_in_undelivered_events([]) == set()


def test_more_ids_than_one_batch_are_all_asked(store):
    store.create_client(ClientRecord("a", state="READY"))
    last = f"m{ID_BATCH + 5}"
    store.add_events([event("a", last)])
    ids = [f"m{n}" for n in range(ID_BATCH + 10)]
    assert store.media_ids_in_undelivered_events(ids) == {last}


def test_the_event_log_stores_the_media_id_its_event_carries(store):
    store.create_client(ClientRecord("a", state="READY"))
    directory = WebhookDirectory(store, WebhookConfig("http://127.0.0.1:9/hook", "whsec_" + "x" * 32, None), 10.0)
    log = EventLog(store, directory, batched=False)
    log.publish("a", EventType.MESSAGE, {"id": "W1", "media": {"id": "m_in_message", "status": "pending"}})
    log.publish("a", EventType.MESSAGE_MEDIA, {"messageId": "W1", "media": {"id": "m_follow_up"}})
    log.publish("a", EventType.MESSAGE, {"id": "W2", "media": None})
    assert store.media_ids_in_undelivered_events(["m_in_message", "m_follow_up", "W2"]) == {
        "m_in_message", "m_follow_up"}
    assert len(store.list_events(client_id="a")) == 3
    assert utcnow() - store.list_events(client_id="a")[0].created_at < timedelta(minutes=1)
