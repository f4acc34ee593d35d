"""ClientRegistry: requests racing on one client, each race held open at its worst moment by a store
test double that stops one write until the test lets it go (FakeBackend, the real SQLite store)."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import drive_to_ready, wait_until
from wamulti.backends.backend_api import PairSuccess, QrUpdated
from wamulti.errors import Conflict, NotFound
from wamulti.clients.states import READY
from wamulti.sending.outcome import Accepted

PHONE, TO = "4915123456789", "4915100000001@s.whatsapp.net"


class HeldWriteStore:
    """Test double around a real store: the named write waits, once, until release(); the rest passes."""

    def __init__(self, store, write: str):
        self._store = store
        self._write = write
        self.reached = threading.Event()  # the held write has begun
        self._go = threading.Event()

    def __getattr__(self, name):
        real = getattr(self._store, name)
        if name != self._write:
            return real

        def held(*args, **kwargs):
            if not self.reached.is_set():
                self.reached.set()
                assert self._go.wait(10), "the test never released the held write"
            return real(*args, **kwargs)
        return held

    def release(self) -> None:
        self._go.set()


def in_thread(call) -> tuple[threading.Thread, list]:
    """Run call() on a thread of its own; the list gets what it returned or raised."""
    outcome: list = []

    def run():
        try:
            outcome.append(call())
        except Exception as exc:  # the test looks at what it raised
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def ready_client(reg, fake_backend, client_id: str) -> None:
    reg.create(client_id, PHONE)
    session = fake_backend.wait_session(1)
    session.emit(QrUpdated("qr"))
    session.emit(PairSuccess(f"{PHONE}@s.whatsapp.net"))
    drive_to_ready(session)
    wait_until(lambda: reg.get(client_id).state == READY)


def test_a_client_being_created_is_found_by_no_request_until_it_has_started(make_registry, sqlite_store):
    store = HeldWriteStore(sqlite_store, "create_client")
    reg = make_registry(store=store)
    creating, created = in_thread(lambda: reg.create("c", PHONE))
    assert store.reached.wait(5)
    for request in (lambda: reg.get("c"), lambda: reg.delete("c"), lambda: reg.pair("c", PHONE),
                    lambda: reg.qr("c"), lambda: reg.send_text("c", TO, "t", wait=False),
                    lambda: reg.while_live("c", lambda: "a webhook change")):
        with pytest.raises(NotFound):
            request()
    with pytest.raises(Conflict):
        reg.create("c", PHONE)
    assert reg.list() == []
    store.release()
    creating.join(5)
    assert created[0].client_id == "c", created
    assert [c.client_id for c in reg.list()] == ["c"] and sqlite_store.get_client("c") is not None
    reg.delete("c")  # the delete that came during the create found nothing: this one deletes
    assert reg.list() == [] and sqlite_store.get_client("c") is None


def test_a_delete_waits_for_a_send_writing_its_row_then_removes_it(make_registry, sqlite_store, fake_backend):
    store = HeldWriteStore(sqlite_store, "enqueue_send")
    reg = make_registry(store=store)
    ready_client(reg, fake_backend, "c")
    sending, sent = in_thread(lambda: reg.send_text("c", TO, "t", wait=False))
    assert store.reached.wait(5)
    deleting, deleted = in_thread(lambda: reg.delete("c"))
    wait_until(lambda: not reg.list())  # the delete began: the client is gone for requests
    with pytest.raises(NotFound):
        reg.send_text("c", TO, "later", wait=False)
    assert sqlite_store.get_client("c") is not None, "the delete must wait for the send's row"
    store.release()
    sending.join(5)
    deleting.join(10)
    assert isinstance(sent[0], Accepted), sent
    assert deleted and not isinstance(deleted[0], Exception), deleted
    assert sqlite_store.get_client("c") is None
    assert sqlite_store.get_send(sent[0].message_id) is None and sqlite_store.open_sends("c") == []


def test_a_webhook_change_and_a_pair_take_turns_with_a_delete(make_registry, sqlite_store, fake_backend):
    reg = make_registry()
    reg.create("c", PHONE)
    changing, release = threading.Event(), threading.Event()

    def slow_change():
        changing.set()
        assert release.wait(5)
        return "changed"

    webhook, webhook_outcome = in_thread(lambda: reg.while_live("c", slow_change))
    assert changing.wait(5)
    deleting, deleted = in_thread(lambda: reg.delete("c"))
    wait_until(lambda: not reg.list())
    pairing, paired = in_thread(lambda: reg.pair("c", PHONE))
    pairing.join(5)
    assert isinstance(paired[0], NotFound), paired  # the delete began first
    assert sqlite_store.get_client("c") is not None, "the delete waits for the change under way"
    release.set()
    webhook.join(5)
    deleting.join(10)
    assert webhook_outcome == ["changed"] and not isinstance(deleted[0], Exception), deleted
    assert sqlite_store.get_client("c") is None
    with pytest.raises(NotFound):
        reg.delete("c")
