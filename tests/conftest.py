"""Shared fixtures: a throwaway MariaDB server for the run, a store of each kind, and what the
worker and registry tests share (a FakeBackend, worker and registry factories, helpers).
"""

from __future__ import annotations

import os
import time

import pytest

from tests.external_mysql import ENV as EXTERNAL
from tests.external_mysql import ExternalMySQL
from tests.fake_backend import FakeBackend, FakePrompter
from tests.mariadb import MariaDB
from tests.mysql_dialect import recording
from wamulti.backends.backend_api import Connected, SyncCompleted
from wamulti.config import Settings
from wamulti.clients.registry import ClientRegistry
from wamulti.store import open_store
from wamulti.store.store_api import ClientRecord, StoreUnavailable
from wamulti.clients.states import CONNECTING, READY
from wamulti.clients.worker import ClientWorker
from wamulti.sending.sender import Sent


@pytest.fixture(scope="session")
def mariadb():
    """A MariaDB server of our own on a free loopback port, for the whole test run (or the server
    WAMULTI_TEST_MYSQL names: tests/external_mysql.py)."""
    if os.environ.get(EXTERNAL):
        server = ExternalMySQL(os.environ[EXTERNAL])
        yield server
        server.destroy()
        return
    server = MariaDB()
    if server.mariadbd is None or server.install_db is None:
        if os.environ.get("CI"):
            pytest.fail("mariadbd is not installed: CI must run the MySQL tests (./scripts/test installs it)")
        pytest.skip("mariadbd is not installed (./scripts/test installs it)")
    try:
        server.install()
        server.start()
        server.setup_user()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def sqlite_store(tmp_path):
    """A fresh embedded store (unit tests of the worker and registry)."""
    s = open_store(Settings(api_key="t" * 16, data_dir=tmp_path / "db"))
    yield s
    s.close()


@pytest.fixture(params=["sqlite", "mysql"])
def store(request, tmp_path):
    """A fresh, empty store of each kind: the same tests run on both."""
    if request.param == "mysql":
        server = request.getfixturevalue("mariadb")
        with recording() as log:  # and every statement it sent is one MySQL 8 accepts (tests/mysql_dialect.py)
            s = open_store(server.settings(server.new_database()), wait_seconds=10)
            yield s
            s.close()
        assert log.offending() == {}, "MariaDB-only SQL sent by the MySQL store"
        return
    s = open_store(Settings(api_key="t" * 16, data_dir=tmp_path / "data"))
    yield s
    s.close()


# ---- worker and registry tests: FakeBackend on the SQLite store ------------------------------
def drive_to_ready(session) -> None:
    """Emit what a backend says once a paired client's connection is up and synced: it goes READY."""
    session.emit(Connected())
    session.emit(SyncCompleted())


# The bound of a wait for something that will happen: reached at once on a quiet machine, it only
# says when to give up, so it is long enough for one under heavy load (load average in the hundreds).
BUSY_BOUND = 120.0


def wait_until(predicate, timeout: float = 5.0) -> None:
    """Wait on a condition that another thread makes true (bounded; for what nothing notifies on)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


SEND_WAIT = 20.0  # seconds a test waits for WhatsApp's answer to a send; a slow machine takes a while


def send_and_wait(worker, to: str, text: str, wait: float = SEND_WAIT):
    """Send through the worker's queue and wait for the outcome, as POST /api/messages/send does:
    Sent, or raise what it failed with; a send still under way after `wait` fails the test."""
    answer = worker.submit(to, text, wait=wait)
    assert isinstance(answer, Sent), f"no answer within {wait:g} s: {answer}"
    return answer


class FlakyStore:
    """A store whose writes fail as if the database were down while `down` is set; reads pass through."""

    def __init__(self, store):
        self._store = store
        self.down = False

    def __getattr__(self, name):
        return getattr(self._store, name)

    def _refuse_while_down(self) -> None:
        if self.down:
            raise StoreUnavailable("database unavailable")

    def save_client(self, record):
        self._refuse_while_down()
        return self._store.save_client(record)

    def save_snapshot(self, client_id, data, sha256):
        self._refuse_while_down()
        return self._store.save_snapshot(client_id, data, sha256)

    def save_clients(self, records):
        self._refuse_while_down()
        return self._store.save_clients(records)

    def save_snapshots(self, writes):
        self._refuse_while_down()
        return self._store.save_snapshots(writes)

    def delete_client(self, client_id):
        self._refuse_while_down()
        return self._store.delete_client(client_id)


@pytest.fixture
def fake_backend():
    return FakeBackend()


@pytest.fixture
def make_worker(tmp_path, sqlite_store, fake_backend):
    """make(client_id, jid=, phone=, prompter=, ...) -> a ClientWorker over a fresh stored row; stopped at the end."""
    workers = []

    def make(client_id="alice", *, jid=None, phone=None, prompter=None, pairing_timeout=30.0, **options):
        record = sqlite_store.create_client(ClientRecord(client_id, CONNECTING, phone=phone, jid=jid))
        options.setdefault("snapshot_interval", 0.2)
        worker = ClientWorker(record, backend=fake_backend, store=sqlite_store, prompter=prompter or FakePrompter(),
                              data_dir=tmp_path / "data", pairing_timeout=pairing_timeout, **options)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()
        assert worker.join(10), f"worker {worker.client_id} did not stop"


@pytest.fixture
def make_registry(tmp_path, sqlite_store, fake_backend):
    """make(console=True, store=...) -> a ClientRegistry with short waits; all stopped at the end."""
    made = []

    def make(console=True, store=None, **kwargs):
        registry = ClientRegistry(store=store or sqlite_store, backend=fake_backend,
                                  prompter=FakePrompter(enabled=console), data_dir=tmp_path / "data",
                                  pairing_timeout=30, pairing_code_wait=0.2, snapshot_interval=0.2, **kwargs)
        made.append(registry)
        return registry

    yield make
    for registry in made:
        assert registry.stop_all(10) == []


@pytest.fixture
def ready(make_worker, fake_backend):
    """A factory: a paired worker driven to READY on the fake backend -> (worker, session, sink)."""
    from tests.test_worker_hearing import RecordingSink  # here: that module imports this one

    def make(**options):
        sink = RecordingSink()
        worker = make_worker(events=sink, jid="491577777777@s.whatsapp.net", **options)
        worker.session_path.parent.mkdir(parents=True, exist_ok=True)
        worker.session_path.write_bytes(b"keys")
        worker.start()
        session = fake_backend.wait_session(1)
        drive_to_ready(session)
        assert worker.wait_for_state({READY}, 5)
        return worker, session, sink
    return make


@pytest.fixture
def db(mariadb):
    """A fresh MariaDB database: (its environment for a server process, a store on it)."""
    database = mariadb.new_database()
    store = open_store(mariadb.settings(database), wait_seconds=10)
    yield mariadb.env(database), store
    store.close()
