"""Group commit of the event log: many clients' events per transaction, each client's in id order."""

from __future__ import annotations

import threading
import time

from tests.conftest import wait_until
from wamulti.hearing.webhook_directory import WebhookConfig, WebhookDirectory
from wamulti.hearing.event_fields import new_secret
from wamulti.hearing.event_log import EventLog
from wamulti.hearing.event_model import EventType
from wamulti.store.store_api import StoreUnavailable

HOOK = WebhookConfig("http://127.0.0.1:9/hook", new_secret(), frozenset({EventType.MESSAGE}))


class Recording:
    """The store, with every add_events call recorded; `fail` says which calls (1-based) raise."""

    def __init__(self, store, *, slow: float = 0.0, fail=(), gate: threading.Event | None = None):
        self._store, self._slow, self._fail, self._gate = store, slow, set(fail), gate
        self.calls: list[list] = []

    def __getattr__(self, name):
        return getattr(self._store, name)

    def add_events(self, rows):
        self.calls.append([(r.client_id, r.event_id) for r in rows])
        if len(self.calls) == 1 and self._gate is not None:
            self._gate.wait(10)
        if len(self.calls) in self._fail:
            raise StoreUnavailable("the database is down")
        time.sleep(self._slow)  # a transaction's time, so that publishers queue meanwhile
        self._store.add_events(rows)


def publish_from_threads(log, threads: int, per_thread: int) -> list:
    published, lock = [], threading.Lock()

    def publish(n):
        for i in range(per_thread):
            event = log.publish(f"c{(n + i) % 5}", EventType.MESSAGE, {"n": i})
            with lock:
                published.append(event)

    workers = [threading.Thread(target=publish, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    return published


def in_id_order_per_client(pairs) -> bool:
    ids: dict[str, list[str]] = {}
    for client_id, event_id in pairs:
        ids.setdefault(client_id, []).append(event_id)
    return all(got == sorted(got) for got in ids.values())


def test_concurrent_publishers_share_transactions_and_keep_each_clients_order(store):
    recording = Recording(store, slow=0.005)
    offered = []
    log = EventLog(recording, WebhookDirectory(store, HOOK), notify=offered.append, batched=True)
    published = publish_from_threads(log, threads=8, per_thread=25)
    assert len(published) == 200
    written = [pair for call in recording.calls for pair in call]
    assert sorted(e for _, e in written) == sorted(e.id for e in published), "every event stored once"
    assert len(recording.calls) < 200 and log.transactions == len(recording.calls)
    assert max(len(call) for call in recording.calls) > 1
    assert in_id_order_per_client(written), "per client, stored in id order"
    stored = store.list_events(limit=1000)
    assert len(stored) == 200 and all(r.delivery == "pending" for r in stored)
    assert len(offered) == 200, "every stored pending event offered to delivery"


def test_a_failed_batch_is_held_whole_in_order_and_written_later(store):
    gate = threading.Event()
    recording = Recording(store, fail={2}, gate=gate)
    log = EventLog(recording, WebhookDirectory(store), retry_first=0.05, retry_cap=0.1, batched=True)
    first = threading.Thread(target=log.publish, args=("c0", EventType.CLIENT_STATE, {}))
    first.start()  # its transaction waits at the gate; the others queue behind it
    while not recording.calls:
        time.sleep(0.01)  # polling observable state until the first write is under way
    others = threading.Thread(target=publish_from_threads, args=(log, 12, 1))
    others.start()
    deadline = time.monotonic() + 10
    while log._writer._queue.qsize() < 12 and time.monotonic() < deadline:
        time.sleep(0.01)  # polling observable state until all twelve are queued
    gate.set()
    first.join(10)
    others.join(30)
    assert len(recording.calls) == 2 and len(recording.calls[1]) == 12, "one batch, and it failed"
    assert log.held() == 12, "the whole failed batch is held"
    log.start()
    wait_until(lambda: not log.held(), 10)  # the backlog thread has written everything
    stored = [(r.client_id, r.event_id) for r in store.list_events(limit=100)]
    written_later = [p for call in recording.calls[2:] for p in call]
    assert len(stored) == 13 and in_id_order_per_client(written_later)
    assert sorted(written_later) == sorted(recording.calls[1]), "exactly the failed batch, written later"
    assert log.close() == 0


class FailingDirectory:
    """A webhook lookup that needs the store, and the store is down for the first `failures` lookups."""

    def __init__(self, failures: int):
        self.failures = failures

    def applies(self, client_id, type):
        self.failures -= 1
        if self.failures >= 0:
            raise StoreUnavailable("the database is down")
        return False


def test_a_failed_webhook_lookup_holds_the_event_and_every_later_one_until_the_store_answers(store):
    recording = Recording(store)
    log = EventLog(recording, FailingDirectory(1), retry_first=0.05, retry_cap=0.1)
    first = log.publish("a", EventType.MESSAGE, {})
    second = log.publish("b", EventType.MESSAGE, {})
    assert log.held() == 2 and recording.calls == [], "the outage holds other clients' events too"
    log.start()
    deadline = time.monotonic() + 10
    while log.held() and time.monotonic() < deadline:
        time.sleep(0.02)  # polling observable state until the backlog thread has written everything
    assert [r.event_id for r in store.list_events(limit=10)] == [first.id, second.id]
    third = log.publish("a", EventType.MESSAGE, {})
    assert store.get_event(third.id) is not None and log.transactions == 1, "written at once again"
    assert log.close() == 0


def test_the_embedded_store_is_written_on_the_publishing_thread(store):
    """SQLite commits in groups itself (store/sqlite_commit.py); the hand-over would only add a switch."""
    recording = Recording(store, slow=0.005)
    log = EventLog(recording, WebhookDirectory(store))
    published = publish_from_threads(log, threads=4, per_thread=5)
    written = [pair for call in recording.calls for pair in call]
    assert sorted(e for _, e in written) == sorted(e.id for e in published) and in_id_order_per_client(written)
    assert (max(len(call) for call in recording.calls) == 1) == (store.kind == "sqlite")
