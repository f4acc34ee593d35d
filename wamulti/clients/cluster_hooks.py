"""What the cluster (wamulti/cluster, CLUSTER=on) asks of the registry: run the clients whose leases
this instance took, and let go of those it hands over or lost. Mixed into ClientRegistry; without
CLUSTER nothing here is called and the registry runs every stored client (restore_all).

Adopted clients come back as after a restart of their own (clients/restore.py): paired ones
reconnect from the newest stored snapshot; their rows `sending` fail as `outcome_unknown` whoever
took them (they were taken under an older lease, whose outcome writes the store now refuses), and
their queued rows continue here in order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace

from ..errors import NotFound
from ..sending.elsewhere_queue import ElsewhereQueue
from ..sending.queue_load import load_queues
from ..sessions import session_file
from ..store.send_rows import OutboundRow
from ..store.store_api import ClientRecord, StoreError
from .restore import comes_back, mark_incomplete
from .states import CLOSED, CONNECTING, READY, SYNCING, ClientStatus
from .worker import ClientWorker

log = logging.getLogger(__name__)

LET_GO_SECONDS = 8.0  # a graceful stop's bound: the final snapshot of each client
DRAIN_SECONDS = 3.0  # of which the sends under way may take this long to end
NO_OWNER = ""  # a status's `instance` while no instance holds the client's lease (the API shows null)


class ClusterHooks:
    """adopt / let_go / running: over ClientRegistry's store, workers and entries."""

    def adopt(self, client_ids: Sequence[str]) -> list[str]:
        """Run these clients here (their leases are this instance's now); return those reconnecting."""
        starting: list[ClientWorker] = []
        returning: list[ClientRecord] = []
        for client_id in client_ids:
            try:
                record = self._store.get_client(client_id)
            except StoreError as exc:
                log.warning("[%s] not adopted (store: %s); the lease goes back at the next renewal", client_id, exc)
                continue
            worker = self._adopted(record) if record is not None else None
            if worker is not None:
                starting.append(worker)
                returning.append(record)
        if returning:
            self._show_connecting(returning)
        for worker in starting:
            worker.start(queue=False)
        load_queues(self._store, [w.queue for w in starting], None)  # every `sending` row: outcome_unknown
        for worker in starting:
            worker.start_queue()
        if client_ids:
            log.info("adopted %d clients (%d reconnecting)", len(client_ids), len(starting))
        return [w.client_id for w in starting]

    def _show_connecting(self, records: Sequence[ClientRecord]) -> None:
        """The stored rows say CONNECTING before the workers start: the row still holds the former
        owner's last state (READY), which every other instance would show for a client not connected
        yet. One batch; a failed write is left to each worker's own first write."""
        try:
            self._store.save_clients([replace(record, state=CONNECTING) for record in records])
        except StoreError as exc:
            log.warning("adopted clients' rows not marked CONNECTING (store: %s)", exc)

    def _adopted(self, record: ClientRecord) -> ClientWorker | None:
        """The client registered LIVE here; its worker if it reconnects (None: it waits for a pair)."""
        if record.jid is None and record.state != CLOSED:
            record = mark_incomplete(self._store, record)
        back = comes_back(record)
        if back:
            record = replace(record, state=CONNECTING)
        worker = self._new_worker(record)
        if not self._register_live(worker):
            return None  # already here
        if back:
            self._drop_diverged_copy(worker)
        return worker if back else None

    def _drop_diverged_copy(self, worker: ClientWorker) -> None:
        """A local file from an earlier tenure here whose last snapshot write was refused (the lease had
        gone): its sidecar names generation N, and the store holds another instance's generation N with
        other keys. Generations alone cannot tell them apart, so the local copy goes and the store's is
        restored. (One instance never meets this: its writes are never refused for a lease.)"""
        sidecar = session_file.read_sidecar(worker.session_path)
        if sidecar is None or sidecar.sha256 is None:
            return
        try:
            meta = self._store.snapshot_meta(worker.client_id)
        except StoreError:
            return  # the restore decides with what it can read
        if meta is not None and meta.generation == sidecar.generation and meta.sha256 != sidecar.sha256:
            log.info("[%s] local copy never stored (generation %d elsewhere since): restoring the store's",
                     worker.client_id, meta.generation)
            session_file.remove_session_file(worker.session_path)

    def let_go(self, client_ids: Sequence[str], *, at_once: bool = False,
               timeout: float = LET_GO_SECONDS) -> list[str]:
        """Stop these clients here and forget them; return those not stopped within `timeout`.
        Graceful (a hand-over, SIGTERM): no new sends begin, those under way end (at most DRAIN_SECONDS),
        each client saves its final snapshot, then the caller releases the leases. `at_once` (the lease
        is lost or about to be): each is disconnected now."""
        workers = self._unregister(client_ids)
        deadline = time.monotonic() + timeout
        if not at_once:  # no new sends begin; those under way end before the connection does
            for worker in workers:
                worker.queue.stop()
            drained_by = time.monotonic() + DRAIN_SECONDS
            for worker in workers:
                worker.queue.drain(max(0.0, drained_by - time.monotonic()))
        for worker in workers:
            worker.cut() if at_once else worker.stop()
        stragglers = [w.client_id for w in workers if not w.join(max(0.0, deadline - time.monotonic()))]
        if stragglers:
            log.warning("%d clients let go still stopping after %gs: %s", len(stragglers), timeout,
                        ", ".join(stragglers[:10]))
        return stragglers

    shared_queue = False  # CLUSTER=on: sends for a client not running here go into the store's queue
    whereabouts = None  # CLUSTER=on: cluster/whereabouts.py, which instance runs which client

    def _here(self, status: ClientStatus) -> ClientStatus:
        """A status of a client running here, naming this instance (CLUSTER=on)."""
        return status if self.whereabouts is None else replace(status, instance=self.whereabouts.instance_id)

    def _status_elsewhere(self, client_id: str) -> ClientStatus:
        """A client another instance runs (or none now), as the store has it; NotFound if unknown."""
        record = self._store.get_client(client_id) if self.whereabouts is not None else None
        if record is None:
            raise NotFound(f"No client with id '{client_id}'.")
        owner = self.whereabouts.owner(client_id)
        return _stored_status(record, owner.instance_id if owner else NO_OWNER)

    def list_here(self) -> list[ClientStatus]:
        """The clients running here (the metrics' view; list() shows the other instances' too)."""
        return [self._here(w.status()) for _, w in sorted(self._live_workers(), key=lambda item: item[0])]

    def _with_elsewhere(self, here: list[ClientStatus]) -> list[ClientStatus]:
        """Every client: those running here, and (CLUSTER=on) the others as the store has them."""
        if self.whereabouts is None:
            return here
        seen = {status.client_id for status in here}
        owners = self.whereabouts.owners()
        others = [_stored_status(r, owners.get(r.client_id, NO_OWNER)) for r in self._store.list_clients() if r.client_id not in seen]
        return sorted([self._here(s) for s in here] + others, key=lambda status: status.client_id)

    def _submitter(self, client_id: str) -> ClientWorker | ElsewhereQueue:
        """Who takes a send for the client: its worker here, or (CLUSTER=on) its queue in the store,
        which its owner reads; NotFound for an unknown client."""
        try:
            return self._worker(client_id)
        except NotFound:
            if not self.shared_queue:
                raise
        return ElsewhereQueue(self._store, client_id, self._send_options.queue_max)

    def pick_up(self, rows: Sequence[OutboundRow]) -> None:
        """Queued rows of clients running here, accepted by other instances: into their queues."""
        by_client: dict[str, list[OutboundRow]] = {}
        for row in rows:
            by_client.setdefault(row.client_id, []).append(row)
        with self._lock:
            workers = [(self._entries[c].worker, found) for c, found in by_client.items() if c in self._entries]
        for worker, found in workers:
            worker.queue.found(found)

    def runs(self, client_id: str) -> bool:
        with self._lock:
            return client_id in self._entries

    def running(self) -> list[str]:
        """The ids of the clients registered here."""
        with self._lock:
            return sorted(self._entries)


def _stored_status(record: ClientRecord, instance: str | None) -> ClientStatus:
    """What the API shows of a client not running here: its stored row (the owner writes each change).
    With no owner (a failover under way) nobody is connected: a stored READY/SYNCING is the dead
    owner's last word, shown as CONNECTING (the next owner reconnects it)."""
    state = CONNECTING if instance == NO_OWNER and record.state in (READY, SYNCING) else record.state
    return ClientStatus(record.client_id, state, None, record.phone, record.jid, record.last_error,
                        record.updated_at, instance=instance)
