"""ClientRegistry with FakeBackend on the real SQLite store: ids, conflicts, restore, delete, stop."""

from __future__ import annotations

import threading

import pytest

from tests.fake_backend import FakeBackend, FakePrompter
from wamulti.backends import base as bk
from wamulti.errors import Conflict, InvalidField, NotFound
from wamulti.registry import ClientRegistry
from wamulti.store.base import ClientRecord
from wamulti.worker import CLOSED, PAIRING, READY


@pytest.fixture
def store(sqlite_store):
    return sqlite_store


@pytest.fixture
def backend():
    return FakeBackend()


@pytest.fixture
def make_registry(tmp_path, store, backend):
    made = []

    def make(console=True, **kwargs):
        registry = ClientRegistry(store=store, backend=backend, prompter=FakePrompter(enabled=console),
                                  data_dir=tmp_path / "data", pairing_timeout=30, pairing_code_wait=0.2,
                                  snapshot_interval=0.2, **kwargs)
        made.append(registry)
        return registry

    yield make
    for registry in made:
        assert registry.stop_all(10) == []


def test_create_conflict_and_sorted_list(make_registry, store):
    reg = make_registry()
    for cid in ("zeta", "alpha", "Mid"):
        reg.create(cid, "4915123456789")
    with pytest.raises(Conflict):
        reg.create("alpha", "4915123456789")
    assert [c.client_id for c in reg.list()] == ["Mid", "alpha", "zeta"]
    assert [r.client_id for r in store.list_clients()] == ["Mid", "alpha", "zeta"]


def test_concurrent_creates_have_exactly_one_winner(make_registry, store):
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
    assert len(store.list_clients()) == 1


def test_without_phone_needs_the_console(make_registry, store):
    reg = make_registry(console=False)
    with pytest.raises(InvalidField, match="phone"):
        reg.create("nophone", None)
    assert store.list_clients() == [] and reg.list() == []


def test_unknown_ids_are_not_found(make_registry):
    reg = make_registry()
    for call in (lambda: reg.get("x"), lambda: reg.delete("x"), lambda: reg.qr("x"),
                 lambda: reg.pair("x", None), lambda: reg.send_text("x", "1@s.whatsapp.net", "t")):
        with pytest.raises(NotFound):
            call()


def test_restore_reconnects_paired_and_closes_unfinished(make_registry, store, backend, tmp_path):
    import hashlib
    import zlib

    store.create_client(ClientRecord("paired", READY, phone="491", jid="491@s.whatsapp.net"))
    store.save_snapshot("paired", zlib.compress(b"keys"), hashlib.sha256(b"keys").hexdigest())
    store.create_client(ClientRecord("half", PAIRING, phone="492"))
    store.create_client(ClientRecord("banned", CLOSED, jid="493@s.whatsapp.net", last_error="temporary_ban"))
    reg = make_registry()
    assert reg.restore_all() == 1
    session = backend.wait_session(1)
    assert session.client_id == "paired" and session.path.read_bytes() == b"keys"
    states = {c.client_id: (c.state, c.last_error) for c in reg.list()}
    assert states["half"] == (CLOSED, "pairing_incomplete")
    assert states["banned"] == (CLOSED, "temporary_ban")
    assert store.get_client("half").last_error == "pairing_incomplete"
    assert len(backend.sessions) == 1, "restore must not start unpaired or closed clients"


def test_pair_conflicts_when_ready(make_registry, backend):
    reg = make_registry()
    reg.create("a", "4915123456789")
    session = backend.wait_session(1)
    session.emit(bk.QrUpdated("qr"))
    session.emit(bk.PairSuccess("4915123456789@s.whatsapp.net"))
    session.emit(bk.Connected())
    session.emit(bk.SyncCompleted())
    reg._worker("a").wait_for_state({READY}, 5)
    with pytest.raises(Conflict):
        reg.pair("a", "4915123456789")


def test_delete_in_every_state_is_quick(make_registry, backend, store):
    reg = make_registry()
    reg.create("connecting", "4915123456789")
    reg.create("closed", "4915123456780")
    backend.wait_session(2)
    closed = reg._worker("closed")
    for s in backend.sessions:
        if s.client_id == "closed":
            s.emit(bk.Terminated("stream_replaced"))
    closed.wait_for_state({CLOSED}, 5)
    for cid in ("connecting", "closed"):
        reg.delete(cid)
        assert store.get_client(cid) is None
    assert reg.list() == []
