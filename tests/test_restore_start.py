"""Start-up restore (ClientRegistry.restore_all): one query for every client's stored snapshot meta,
the same decisions as a worker asking for its own, and the restore thread's staggered starts."""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from datetime import timedelta

from tests.conftest import drive_to_ready, wait_until
from wamulti.sessions import session_file
from wamulti.store.store_api import ClientRecord, SnapshotWrite, StoreUnavailable
from wamulti.store.send_rows import FAILED, QUEUED, SENDING, OutboundRow
from wamulti.store.client_rows import utcnow
from wamulti.clients.states import CONNECTING, READY
from wamulti.sending.sender import new_message_id

JID = "4915000000{}@s.whatsapp.net"


class CountingStore:
    """A test double around the real store: counts the calls the registry and its workers make."""

    def __init__(self, store):
        self._store = store
        self.calls: dict[str, int] = {}

    def __getattr__(self, name):
        method = getattr(self._store, name)
        if not callable(method):
            return method

        def counted(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return method(*args, **kwargs)
        return counted


def stored_client(store, client_id: str, n: int, keys: bytes, generation: int) -> None:
    store.create_client(ClientRecord(client_id, READY, jid=JID.format(n)))
    store.save_snapshots([SnapshotWrite(client_id, zlib.compress(keys), hashlib.sha256(keys).hexdigest(), generation)])


def local_file(data_dir, client_id: str, keys: bytes, generation: int):
    path = data_dir / "sessions" / f"{client_id}.session"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(keys)
    session_file.write_sidecar(path, session_file.Sidecar(generation, hashlib.sha256(keys).hexdigest()))
    return path


def test_restore_reads_the_meta_once_and_decides_as_each_worker_would(make_registry, sqlite_store, fake_backend,
                                                                       tmp_path):
    data = tmp_path / "data"
    stored_client(sqlite_store, "newer-local", 1, b"stored 2", 2)  # the local file moved on after generation 2
    newer_local = local_file(data, "newer-local", b"local, after 2", 2)
    stored_client(sqlite_store, "newer-stored", 2, b"stored 5", 5)  # another host saved generation 5
    newer_stored = local_file(data, "newer-stored", b"local 3", 3)
    stored_client(sqlite_store, "no-file", 3, b"stored 1", 1)
    counting = CountingStore(sqlite_store)
    registry = make_registry(store=counting)
    assert registry.restore_all() == 3
    for n in (1, 2, 3):
        fake_backend.wait_session(n)
    assert counting.calls.get("all_snapshot_meta") == 1 and "snapshot_meta" not in counting.calls
    assert newer_local.read_bytes() == b"local, after 2", "a local file newer than the store is never overwritten"
    assert newer_stored.read_bytes() == b"stored 5" and session_file.read_sidecar(newer_stored).generation == 5
    assert (data / "sessions" / "no-file.session").read_bytes() == b"stored 1"
    assert counting.calls.get("load_snapshot") == 2, "only the clients that need the stored copy read it"


def test_a_worker_asks_the_store_itself_when_the_bulk_read_fails(make_registry, sqlite_store, fake_backend, tmp_path):
    stored_client(sqlite_store, "a", 1, b"stored 4", 4)
    path = local_file(tmp_path / "data", "a", b"local 2", 2)
    counting = CountingStore(sqlite_store)

    def refused():
        raise StoreUnavailable("database unavailable")
    counting.all_snapshot_meta = refused
    registry = make_registry(store=counting)
    assert registry.restore_all() == 1
    fake_backend.wait_session(1)
    assert counting.calls.get("snapshot_meta") == 1
    assert path.read_bytes() == b"stored 4", "the worker's own lookup still finds the newer stored copy"


def test_the_restore_thread_starts_clients_stagger_apart_and_stops_starting_on_stop_all(make_registry,
                                                                                     sqlite_store, fake_backend):
    for n in range(6):
        stored_client(sqlite_store, f"c{n}", n, b"keys", 1)
    registry = make_registry()
    began = time.monotonic()
    assert registry.restore_all(stagger=0.3) == 6
    assert [c.state for c in registry.list()] == [CONNECTING] * 6, "every client is listed before any starts"
    fake_backend.wait_session(2)
    assert time.monotonic() - began >= 0.25, "the second start waits its turn"
    assert registry.stop_all(10) == []
    count = len(fake_backend.sessions)
    time.sleep(0.7)
    assert count < 6 and len(fake_backend.sessions) == count, "no start after stop_all"


def test_a_pair_request_during_the_restore_starts_the_client_once(make_registry, sqlite_store, fake_backend):
    for n in range(3):
        stored_client(sqlite_store, f"c{n}", n, b"keys", 1)
    registry = make_registry()
    registry.restore_all(stagger=0.5)
    assert registry.pair("c2", None).state == CONNECTING  # before its turn: the request starts it
    wait_until(lambda: len(fake_backend.sessions) == 3, timeout=5)
    time.sleep(0.6)  # c2's turn has passed: the restore thread left it alone
    assert sorted(s.client_id for s in fake_backend.sessions) == ["c0", "c1", "c2"]


def queued_sends(store) -> tuple[OutboundRow, list[OutboundRow]]:
    """c0's send under way when the last process died, and one waiting send of each of c0, c1, c2."""
    since = utcnow() - timedelta(days=1)
    under_way, _ = store.enqueue_send(OutboundRow(new_message_id(), "c0", "+4915100000001", "under way"), 10, since)
    store.claim_send(under_way.message_id, "")
    waiting = [store.enqueue_send(OutboundRow(new_message_id(), f"c{n}", "+4915100000001", f"m{n}"), 10, since)[0]
               for n in range(3)]
    return under_way, waiting


def restore_and_send(make_registry, store, fake_backend, counting) -> None:
    under_way, waiting = queued_sends(store)
    make_registry(store=counting).restore_all(stagger=0.01)
    for n in (1, 2, 3):
        drive_to_ready(fake_backend.wait_session(n))
    wait_until(lambda: all(store.get_send(r.message_id).state not in (QUEUED, SENDING) for r in waiting), timeout=10)
    assert (store.get_send(under_way.message_id).state, store.get_send(under_way.message_id).reason) == \
        (FAILED, "outcome_unknown"), "what was under way may have gone out: never sent again"
    assert all(store.get_send(r.message_id).state != FAILED for r in waiting), "every waiting send went out"


def test_the_restore_loads_every_queue_in_one_read_and_sends_once_ready(make_registry, sqlite_store, fake_backend):
    for n in range(3):
        stored_client(sqlite_store, f"c{n}", n, b"keys", 1)
    counting = CountingStore(sqlite_store)
    restore_and_send(make_registry, sqlite_store, fake_backend, counting)
    assert counting.calls.get("load_open_sends") == 1
    assert "open_sends" not in counting.calls and "fail_open_sends" not in counting.calls


def test_each_queue_loads_itself_when_the_bulk_read_fails(make_registry, sqlite_store, fake_backend):
    for n in range(3):
        stored_client(sqlite_store, f"c{n}", n, b"keys", 1)
    counting = CountingStore(sqlite_store)

    def refused(*args):
        raise StoreUnavailable("database unavailable")
    counting.load_open_sends = refused
    restore_and_send(make_registry, sqlite_store, fake_backend, counting)
    assert counting.calls.get("open_sends") == 3 and counting.calls.get("fail_open_sends") == 3


class HandedOver:
    """Test double of a run's Sender: keeps the ids of the rows it is handed, sends none."""

    open = True

    def __init__(self):
        self.rows: list[str] = []

    def submit(self, session, row, lane) -> bool:
        self.rows.append(row.message_id)
        return True


class Unheard:
    def send_failed(self, *args) -> None:
        pass


def test_a_queue_started_during_the_read_waits_for_its_rows_and_one_loaded_already_is_left_out(sqlite_store):
    from wamulti.sending.dispatcher import Dispatcher
    from wamulti.sending.send_options import SendOptions
    from wamulti.sending.queue_load import load_queues

    for n in range(2):
        sqlite_store.create_client(ClientRecord(f"c{n}", READY, jid=JID.format(n)))
    waiting, _ = sqlite_store.enqueue_send(OutboundRow(new_message_id(), "c0", "+4915100000001", "m"), 10,
                                           utcnow() - timedelta(days=1))
    counting = CountingStore(sqlite_store)
    asked, gate = [], threading.Event()

    def slow_read(ids, *rest):  # the test starts q0 while this read is under way
        asked.append(list(ids))
        gate.wait(5)
        return sqlite_store.load_open_sends(ids, *rest)
    counting.load_open_sends = slow_read
    sender = HandedOver()
    q0 = Dispatcher("c0", counting, Unheard(), SendOptions(), lambda: ("session", sender))
    q1 = Dispatcher("c1", counting, Unheard(), SendOptions(), lambda: None)
    q1.start()  # a request started it first: it loads itself
    wait_until(lambda: counting.calls == {"fail_open_sends": 1, "open_sends": 1})
    loader = threading.Thread(target=load_queues, args=(counting, [q0, q1], ""))
    loader.start()
    wait_until(lambda: asked)
    q0.start()  # during the read: its thread waits for the rows instead of reading its own
    time.sleep(0.2)
    gate.set()
    loader.join(5)
    wait_until(lambda: sender.rows == [waiting.message_id])  # loaded, then claimed and handed over
    assert asked == [["c0"]] and counting.calls == {"fail_open_sends": 1, "open_sends": 1, "claim_send": 1}
    q0.stop()
    q1.stop()
