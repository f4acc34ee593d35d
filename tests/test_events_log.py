"""Publishing: stored before publish returns, pending only where a webhook applies, held through outages."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from wamulti.hearing.webhook_directory import WebhookConfig, WebhookDirectory
from wamulti.hearing.event_fields import new_secret
from wamulti.hearing.event_log import EventLog
from wamulti.hearing.event_model import EventType
from wamulti.store import open_store
from wamulti.store.store_api import ClientRecord

HOOK = WebhookConfig("http://127.0.0.1:9/hook", new_secret(), frozenset({EventType.MESSAGE}))


def test_publish_stores_the_event_before_it_returns(store):
    log = EventLog(store, WebhookDirectory(store))
    event = log.publish("a", "message", {"text": "hi", "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)})
    row = store.get_event(event.id)
    assert row is not None and (row.client_id, row.type, row.delivery) == ("a", "message", "none")
    assert json.loads(row.body) == {**event.to_json(), "data": {"text": "hi", "at": "2026-01-02T03:04:05.000Z"}}
    assert event.id.startswith("evt_") and event.timestamp.tzinfo is not None


def test_an_event_is_pending_only_where_a_webhook_applies(store):
    store.create_client(ClientRecord("own", "READY"))
    directory = WebhookDirectory(store, HOOK)
    directory.save(WebhookConfig("http://127.0.0.1:9/own", new_secret(), frozenset({EventType.CLIENT_STATE}), "own"))
    log = EventLog(store, directory)
    published = [log.publish("x", EventType.MESSAGE, {}), log.publish("x", EventType.CLIENT_STATE, {}),
                 log.publish("own", EventType.CLIENT_STATE, {}), log.publish("own", EventType.MESSAGE, {})]
    assert [store.get_event(e.id).delivery for e in published] == ["pending", "none", "pending", "none"]
    pending = store.get_event(published[0].id)
    assert pending.next_at is not None and pending.queued_at is not None and pending.attempts == 0


def test_publish_offers_the_client_to_delivery_only_for_pending_events(store):
    offered = []
    log = EventLog(store, WebhookDirectory(store, HOOK), notify=offered.append)
    log.publish("a", EventType.MESSAGE, {})
    log.publish("b", EventType.CLIENT_STATE, {})
    assert offered == ["a"]


def test_events_published_while_the_database_is_down_are_stored_later_in_order(mariadb):
    store = open_store(mariadb.settings(mariadb.new_database()))
    log = EventLog(store, WebhookDirectory(store, HOOK), retry_first=0.1, retry_cap=0.5)
    log.start()
    before = log.publish("a", EventType.MESSAGE, {"n": -1})
    mariadb.stop()
    try:
        started = time.monotonic()
        published = [log.publish("abc"[n % 3], EventType.MESSAGE, {"n": n}).id for n in range(30)]
        assert time.monotonic() - started < 10, "publishing does not wait for the database"
        assert log.held() == 30
    finally:
        mariadb.start()
    deadline = time.monotonic() + 30
    while log.held() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling observable state until the backlog thread has written everything
    stored = [r.event_id for r in store.list_events(limit=1000)]
    assert stored == [before.id, *published], "every event stored, in id order"
    assert all(r.delivery == "pending" for r in store.list_events(limit=1000))
    assert log.close() == 0
    store.close()


def test_events_that_could_not_be_stored_by_the_stop_are_counted(mariadb):
    store = open_store(mariadb.settings(mariadb.new_database()))
    log = EventLog(store, WebhookDirectory(store), retry_first=0.1, retry_cap=0.2)
    log.start()
    mariadb.stop()
    try:
        log.publish("a", EventType.CLIENT_STATE, {"state": "CLOSED"})
        log.publish("a", EventType.CLIENT_STATE, {"state": "CONNECTING"})
        assert log.close(timeout=2) == 2
    finally:
        mariadb.start()
    store.close()
