"""The registry's cluster hooks (clients/cluster_hooks.py) on a real registry and store with the
fake backend: adopting a client as a takeover does, letting it go, sends for a client elsewhere."""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from datetime import datetime

import pytest

from tests.conftest import drive_to_ready, wait_until
from wamulti.clients.states import READY
from wamulti.errors import NotFound
from wamulti.sending.send_options import SendOptions
from wamulti.sending.outcome import Accepted
from wamulti.sending.sender import Sent
from wamulti.sending.payloads import SendRequest
from wamulti.sessions import session_file
from wamulti.store.send_rows import FAILED, QUEUED, OutboundRow, StateChange
from wamulti.store.store_api import ClientRecord, SnapshotWrite

JID = "4915123450000@s.whatsapp.net"
FAR = datetime(2100, 1, 1)


def _stored(store, client_id: str, keys: bytes, generation: int) -> None:
    store.create_client(ClientRecord(client_id, READY, jid=JID))
    store.save_snapshots([SnapshotWrite(client_id, zlib.compress(keys), hashlib.sha256(keys).hexdigest(), generation)])


def test_adopting_fails_the_sends_another_instance_had_under_way_and_keeps_the_queued(
        make_registry, sqlite_store, fake_backend):
    _stored(sqlite_store, "moved", b"stored keys", 3)
    sqlite_store.enqueue_send(OutboundRow("m-1", "moved", "+4915100000001", "in flight"), 100, FAR)
    sqlite_store.enqueue_send(OutboundRow("m-2", "moved", "+4915100000001", "waiting"), 100, FAR)
    assert sqlite_store.claim_send("m-1", "inst-dead")  # the dead instance was sending it
    registry = make_registry()
    assert registry.adopt(["moved", "unknown"]) == ["moved"]
    assert registry.running() == ["moved"] and registry.runs("moved")
    session = fake_backend.wait_session(1)
    assert session.path.read_bytes() == b"stored keys"  # restored from the store: no local copy here
    assert sqlite_store.get_send("m-1").state == FAILED and sqlite_store.get_send("m-1").reason == "outcome_unknown"
    assert sqlite_store.get_send("m-2").state == QUEUED
    assert registry.adopt(["moved"]) == []  # once


def test_a_local_copy_whose_write_was_refused_gives_way_to_the_stores_generation(
        make_registry, sqlite_store, fake_backend, tmp_path):
    _stored(sqlite_store, "back", b"keys 2 of the other instance", 2)
    path = tmp_path / "data" / "sessions" / "back.session"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"keys 2 here, never stored")  # the sidecar was written, the store write refused
    session_file.write_sidecar(path, session_file.Sidecar(2, hashlib.sha256(b"keys 2 here, never stored").hexdigest()))
    make_registry().adopt(["back"])
    assert fake_backend.wait_session(1).path.read_bytes() == b"keys 2 of the other instance"


def test_let_go_at_once_disconnects_and_forgets_the_client(make_registry, sqlite_store, fake_backend):
    _stored(sqlite_store, "going", b"keys", 1)
    registry = make_registry()
    registry.adopt(["going"])
    session = fake_backend.wait_session(1)
    drive_to_ready(session)
    assert registry.let_go(["going"], at_once=True) == []
    assert session.stopped.is_set() and registry.running() == []
    with pytest.raises(NotFound):
        registry.get("going")


def test_a_send_for_a_client_elsewhere_is_queued_in_the_store_only_when_shared(make_registry, sqlite_store):
    _stored(sqlite_store, "far", b"keys", 1)
    registry = make_registry()
    with pytest.raises(NotFound):
        registry.send_message("far", SendRequest("+4915100000009", "hello"), wait=False)
    registry.shared_queue = True
    answer = registry.send_message("far", SendRequest("+4915100000009", "hello"), wait=False)
    assert isinstance(answer, Accepted) and answer.status == QUEUED
    assert [row.body for row in sqlite_store.open_sends("far")] == ["hello"]
    with pytest.raises(NotFound):
        registry.send_message("nobody", SendRequest("+4915100000009", "hello"), wait=False)


def test_a_graceful_let_go_lets_the_send_under_way_end_before_the_connection(make_registry, sqlite_store,
                                                                             fake_backend):
    _stored(sqlite_store, "handing", b"keys", 1)
    registry = make_registry()
    registry.adopt(["handing"])
    session = fake_backend.wait_session(1)
    drive_to_ready(session)
    wait_until(lambda: registry.get("handing").state == READY)
    session.send_delay = 0.5
    accepted = registry.send_message("handing", SendRequest("+4915100000009", "last words"), wait=False)
    wait_until(lambda: any(call[0] == "send_text" for call in session.calls))
    started = time.monotonic()
    assert registry.let_go(["handing"]) == []
    assert time.monotonic() - started >= 0.4  # the send's 0.5 s, then the stop
    assert session.calls.index(("stop",)) > [c[0] for c in session.calls].index("send_text")
    assert sqlite_store.get_send(accepted.message_id).state not in (QUEUED, "sending", FAILED)


def test_a_waiting_send_for_a_client_elsewhere_answers_with_the_owners_outcome(make_registry, sqlite_store):
    _stored(sqlite_store, "far", b"keys", 1)
    registry = make_registry(send_options=SendOptions(wait=5.0))
    registry.shared_queue = True

    def the_owner_sends_it() -> None:  # what the owning instance does with the row it picked up
        wait_until(lambda: sqlite_store.open_sends("far"))
        row = sqlite_store.open_sends("far")[0]
        assert sqlite_store.claim_send(row.message_id, "inst-owner")
        sqlite_store.finish_send(row.message_id, StateChange("server", chat="4915100000009@s.whatsapp.net",
                                                             wa_message_id="WA1", sent_at=datetime(2026, 1, 1)))

    owner = threading.Thread(target=the_owner_sends_it)
    owner.start()
    answer = registry.send_message("far", SendRequest("+4915100000009", "hello"), wait=True)
    owner.join()
    assert isinstance(answer, Sent) and answer.wa_message_id == "WA1" and answer.to == "4915100000009@s.whatsapp.net"


def test_an_adopted_client_is_stored_connecting_before_its_worker_runs(make_registry, sqlite_store, fake_backend):
    _stored(sqlite_store, "taken", b"keys", 1)  # the former owner's last word: READY
    make_registry().adopt(["taken"])
    assert sqlite_store.get_client("taken").state == "CONNECTING"  # what every other instance shows now
    fake_backend.wait_session(1)


class NobodyOwnsAnything:
    """Test double for cluster/whereabouts.py during a failover: no live lease for any client."""

    instance_id = "inst-here"

    def owner(self, client_id):
        return None

    def owners(self):
        return {}


def test_a_client_nobody_owns_is_shown_connecting_not_as_its_dead_owners_ready(make_registry, sqlite_store):
    _stored(sqlite_store, "orphan", b"keys", 1)
    sqlite_store.create_client(ClientRecord("unpaired", "PAIRING"))
    registry = make_registry()
    registry.whereabouts = NobodyOwnsAnything()
    shown = {s.client_id: s for s in registry.list()}
    assert shown["orphan"].state == "CONNECTING" and shown["orphan"].instance == ""
    assert shown["unpaired"].state == "PAIRING"  # only a connected state is the dead owner's to take back
    assert registry.get("orphan").state == "CONNECTING"
