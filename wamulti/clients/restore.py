"""Start-up: which stored clients reconnect, and the `restore` thread that starts them a few at a time."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

from ..sending.queue_load import load_queues
from ..store.store_api import ClientRecord, SessionStore, SnapshotMeta, StoreError
from .states import CLOSED
from .worker import ClientWorker

log = logging.getLogger(__name__)

RESTORE_STAGGER = 0.002  # seconds between restored clients' first connects (1,000 clients: 2 s)
TRANSIENT_CLOSES = ("connect_failed", "internal_error")  # last errors a restart may cure (prefixes)
GAVE_UP = "(gave up after "  # older versions closed a client after 100 failed dials (or 5xx answers)


def comes_back(record: ClientRecord) -> bool:
    """Whether start-up reconnects a stored client: paired, and not CLOSED, or CLOSED only for a
    transient reason (a failed dial, a crash of its worker, an older version giving up on a dial or
    on WhatsApp's 5xx); never one closed for a terminal reason (logged out, pairing failed, replaced,
    banned, ...), which waits for POST .../pair."""
    if record.jid is None:
        return False
    if record.state != CLOSED:
        return True
    last_error = record.last_error or ""
    return last_error.startswith(TRANSIENT_CLOSES) or GAVE_UP in last_error


def snapshot_meta_of_all(store: SessionStore) -> dict[str, SnapshotMeta] | None:
    """Every stored snapshot's meta, or None when the store cannot say now (each worker asks itself)."""
    try:
        return store.all_snapshot_meta()
    except StoreError as exc:
        log.warning("stored snapshots not looked up at once (%s); each client asks for its own", exc)
        return None


def mark_incomplete(store: SessionStore, record: ClientRecord) -> ClientRecord:
    log.info("[%s] pairing never finished; CLOSED (pairing_incomplete)", record.client_id)
    return store.save_client(replace(record, state=CLOSED, jid=None, last_error="pairing_incomplete"))


class StaggeredStarts:
    """The `restore` thread: starts each returning worker at its turn, `stagger` seconds apart from one
    origin, so that a thousand threads do not start (and query the store) in one herd; then reads every
    started one's queued sends at once (queue_load.py) and starts each one's send queue (after the
    workers: their first look at the store would otherwise crowd out the state writes of the clients
    coming up); not once `stopping` is set, nor a worker a request started (pair) or deleted meanwhile."""

    def __init__(self, store: SessionStore, owner: str, stopping: threading.Event):
        self._store, self._owner, self._stopping = store, owner, stopping
        self._thread: threading.Thread | None = None

    def start(self, workers: list[ClientWorker], stagger: float) -> None:
        self._thread = threading.Thread(target=self._run, args=(workers, stagger), name="restore", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, workers: list[ClientWorker], stagger: float) -> None:
        started = []
        for worker in self._at_turns(workers, stagger):
            try:
                worker.start(queue=False)
                started.append(worker)
            except RuntimeError as exc:  # running already, or deleted: not ours to start any more
                log.debug("[%s] not started by the restore: %s", worker.client_id, exc)
        if not self._stopping.is_set():
            load_queues(self._store, [w.queue for w in started], self._owner)
        for worker in self._at_turns(started, stagger):
            worker.start_queue()

    def _at_turns(self, workers: list[ClientWorker], stagger: float):
        """Each worker at its turn, `stagger` seconds apart from one origin, until stopping is set."""
        origin = time.monotonic()
        for n, worker in enumerate(workers):
            if self._stopping.wait(max(0.0, origin + n * stagger - time.monotonic())):
                return
            yield worker
