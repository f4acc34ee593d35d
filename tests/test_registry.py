"""ClientRegistry with FakeBackend on the real SQLite store: ids, conflicts, restore, delete, stop."""

from __future__ import annotations

import hashlib
import threading
import zlib

import pytest

from tests.conftest import FlakyStore, drive_to_ready, wait_until
from wamulti.backends.backend_api import PairSuccess, QrUpdated, Terminated
from wamulti.errors import Conflict, InvalidField, NotFound
from wamulti.store.store_api import ClientRecord, StoreUnavailable
from wamulti.clients.states import CLOSED, PAIRING, READY


def test_a_taken_id_conflicts_and_the_list_is_sorted_by_id(make_registry, sqlite_store):
    reg = make_registry()
    for cid in ("zeta", "alpha", "Mid"):
        reg.create(cid, "4915123456789")
    with pytest.raises(Conflict):
        reg.create("alpha", "4915123456789")
    assert [c.client_id for c in reg.list()] == ["Mid", "alpha", "zeta"]
    assert [r.client_id for r in sqlite_store.list_clients()] == ["Mid", "alpha", "zeta"]


def test_concurrent_creates_have_exactly_one_winner(make_registry, sqlite_store):
    reg = make_registry()
    results, barrier = [], threading.Barrier(20)

    def create():
        barrier.wait(5)
        try:
            reg.create("same", "4915123456789")
            results.append("created")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=create) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == ["conflict"] * 19 + ["created"]
    assert len(sqlite_store.list_clients()) == 1


def test_create_without_phone_is_invalid_when_the_console_is_off(make_registry, sqlite_store):
    reg = make_registry(console=False)
    with pytest.raises(InvalidField, match="phone"):
        reg.create("nophone", None)
    assert sqlite_store.list_clients() == [] and reg.list() == []


def test_unknown_ids_are_not_found(make_registry):
    reg = make_registry()
    for call in (lambda: reg.get("x"), lambda: reg.delete("x"), lambda: reg.qr("x"),
                 lambda: reg.pair("x", None), lambda: reg.send_text("x", "1@s.whatsapp.net", "t")):
        with pytest.raises(NotFound):
            call()


def test_restore_reconnects_paired_and_closes_unfinished(make_registry, sqlite_store, fake_backend):
    sqlite_store.create_client(ClientRecord("paired", READY, phone="491", jid="491@s.whatsapp.net"))
    sqlite_store.save_snapshot("paired", zlib.compress(b"keys"), hashlib.sha256(b"keys").hexdigest())
    sqlite_store.create_client(ClientRecord("half", PAIRING, phone="492"))
    sqlite_store.create_client(ClientRecord("banned", CLOSED, jid="493@s.whatsapp.net", last_error="temporary_ban"))
    reg = make_registry()
    assert reg.restore_all() == 1
    session = fake_backend.wait_session(1)
    assert session.client_id == "paired" and session.path.read_bytes() == b"keys"
    states = {c.client_id: (c.state, c.last_error) for c in reg.list()}
    assert states["half"] == (CLOSED, "pairing_incomplete")
    assert states["banned"] == (CLOSED, "temporary_ban")
    assert sqlite_store.get_client("half").last_error == "pairing_incomplete"
    assert len(fake_backend.sessions) == 1, "restore must not start unpaired or closed clients"


def test_pair_conflicts_when_the_client_is_ready(make_registry, fake_backend):
    reg = make_registry()
    reg.create("a", "4915123456789")
    session = fake_backend.wait_session(1)
    session.emit(QrUpdated("qr"))
    session.emit(PairSuccess("4915123456789@s.whatsapp.net"))
    drive_to_ready(session)
    wait_until(lambda: reg.get("a").state == READY)
    with pytest.raises(Conflict):
        reg.pair("a", "4915123456789")


def test_delete_removes_clients_in_every_state(make_registry, fake_backend, sqlite_store):
    reg = make_registry()
    reg.create("connecting", "4915123456789")
    reg.create("closed", "4915123456780")
    fake_backend.wait_session(2)
    for s in fake_backend.sessions:
        if s.client_id == "closed":
            s.emit(Terminated("stream_replaced"))
    wait_until(lambda: reg.get("closed").state == CLOSED)
    for cid in ("connecting", "closed"):
        reg.delete(cid)
        assert sqlite_store.get_client(cid) is None
    assert reg.list() == []


def test_delete_that_the_store_refuses_changes_nothing(make_registry, fake_backend, sqlite_store):
    store = FlakyStore(sqlite_store)
    reg = make_registry(store=store)
    reg.create("kept", "4915123456789")
    session = fake_backend.wait_session(1)
    store.down = True
    with pytest.raises(StoreUnavailable):
        reg.delete("kept")
    store.down = False
    assert sqlite_store.get_client("kept") is not None
    assert [c.client_id for c in reg.list()] == ["kept"] and not session.stopped.is_set()
    session.emit(QrUpdated("qr"))  # the worker goes on, and its writes are not blocked
    wait_until(lambda: sqlite_store.get_client("kept").state == PAIRING)
    assert reg.get("kept").pairing_code is not None
