"""ClientRegistry: clientId -> ClientWorker, the one object the API talks to.

The registry lock only guards the dict and each entry's stage; it is never held across store I/O,
joins or prompts. Each client's entry goes RESERVED (create writes its row and starts it) -> LIVE
-> DELETING (a delete runs) -> gone. Only a LIVE client is seen by requests: create takes effect
when it is started and delete when it begins, so a request racing either answers as if it came
wholly before or after (docs/api.md "Races between requests on one client"). Pair, delete and
webhook changes of one client take turns on the entry's own lock, held across their store writes.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from ..backends.backend_api import Backend
from ..errors import Conflict, InvalidField, NotFound
from ..groups.client_groups import ClientGroups
from ..hearing.heard_events import EventSink
from ..hearing.media_intake import MediaIntake
from ..sending.send_options import EXPIRED, SendOptions
from ..sending.action_payloads import ActionRequest
from ..sending.media_kit import MediaKit
from ..sending.outcome import Accepted
from ..sending.payloads import SendRequest, request_hash, to_payload
from ..sending.sender import Sent
from ..sending.wait_slots import WaitSlots
from ..store.client_rows import utcnow
from ..store.send_rows import FAILED, QUEUED, OutboundRow
from ..store.store_api import ClientRecord, DuplicateClient, SessionStore, StoreError
from .cluster_hooks import ClusterHooks
from .lookups import Lookups
from .pairing import Prompter
from .restore import RESTORE_STAGGER, StaggeredStarts, comes_back, mark_incomplete, snapshot_meta_of_all
from .states import CLOSED, CONNECTING, PAIRING, READY, SYNCING, ClientStatus
from .entries import ClientOrder, Entry, Stage, page_of
from .unlink import Unlinked
from .worker import ClientWorker

log = logging.getLogger(__name__)

PAIRING_CODE_WAIT = 15.0
STOP_ALL_SECONDS = 8.0

__all__ = ["ClientRegistry", "ClientStatus", "CLOSED", "CONNECTING", "PAIRING", "READY", "SYNCING", "Unlinked"]


T = TypeVar("T")




class ClientRegistry(ClusterHooks):
    """Thread-safe registry of client workers."""

    def __init__(self, *, store: SessionStore, backend: Backend, prompter: Prompter, data_dir: Path,
                 pairing_timeout: float, pairing_code_wait: float = PAIRING_CODE_WAIT,
                 events: EventSink | None = None, send_options: SendOptions | None = None,
                 wait_slots: int = 4, media: MediaKit | None = None, intake: MediaIntake | None = None,
                 **worker_options):
        self._store = store
        self._media = media or MediaKit()  # the media store and conversions sends use (none: text only)
        self._backend = backend
        self._prompter = prompter
        self._data_dir = Path(data_dir)
        self._pairing_timeout = pairing_timeout
        self._pairing_code_wait = pairing_code_wait
        self._events = events  # where every worker publishes what its client hears (None: nowhere)
        self._worker_options = worker_options  # e.g. send_timeout, snapshot_interval (tests, benchmarks)
        self._intake = intake  # incoming media's downloads, shared by every worker (None: none)
        self._send_options = send_options or SendOptions()
        # request threads waiting for sends: at most wait_slots at once (half of HTTP_THREADS)
        self._wait_slots = WaitSlots(wait_slots)
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self._order = ClientOrder()  # their ids, sorted: pages of the list (entries.py)
        self._stopping = threading.Event()  # stop_all began: the restore thread starts no more workers
        self._restorer: StaggeredStarts | None = None
        # CLUSTER=on: whether this instance may run a client it just created (it takes its lease)
        self.claim_new: Callable[[str], bool] = lambda client_id: True

    @property
    def store_kind(self) -> str:
        return self._store.kind

    @property
    def console_enabled(self) -> bool:
        return bool(self._prompter.enabled)

    def _live(self, client_id: str) -> Entry:
        with self._lock:
            entry = self._entries.get(client_id)
            if entry is None or entry.stage is not Stage.LIVE:
                raise NotFound(f"No client with id '{client_id}'.")
            return entry

    def _worker(self, client_id: str) -> ClientWorker:
        return self._live(client_id).worker

    def _live_workers(self) -> list[tuple[str, ClientWorker]]:
        with self._lock:
            return [(client_id, e.worker) for client_id, e in self._entries.items() if e.stage is Stage.LIVE]

    @contextmanager
    def _changing(self, client_id: str) -> Iterator[ClientWorker]:
        """The client's worker, with its entry's lock held; NotFound if it is not (or no longer) LIVE."""
        entry = self._live(client_id)
        with entry.changing:
            with self._lock:
                live = entry.stage is Stage.LIVE  # a delete may have begun while this waited
            if not live:
                raise NotFound(f"No client with id '{client_id}'.")
            yield entry.worker

    def _register_live(self, worker: ClientWorker) -> bool:
        """Add a LIVE entry for the worker (the cluster adopted its client); False if one is here."""
        with self._lock:
            return self._entries.setdefault(worker.client_id, Entry(worker, Stage.LIVE)).worker is worker

    def _unregister(self, client_ids) -> list[ClientWorker]:
        """Remove the clients' entries (the cluster lets them go); their workers."""
        with self._lock:
            return [entry.worker for entry in (self._entries.pop(c, None) for c in client_ids) if entry is not None]

    def _new_worker(self, record: ClientRecord) -> ClientWorker:
        return ClientWorker(record, backend=self._backend, store=self._store, prompter=self._prompter,
                            data_dir=self._data_dir, pairing_timeout=self._pairing_timeout, events=self._events,
                            send_options=self._send_options, media=self._media, intake=self._intake,
                            **self._worker_options)

    def _require_phone_or_console(self, phone: str | None) -> None:
        if phone is None and not self.console_enabled:
            raise InvalidField("phone", "Field 'phone' is required: the server's pairing console is disabled "
                             "(no terminal on stdin, or PAIRING_CONSOLE=off).")

    # ---- API operations ----------------------------------------------------------------------
    def create(self, client_id: str, phone: str | None) -> ClientStatus:
        """Create and start a client; with a phone, wait a bounded time for its pairing code."""
        self._require_phone_or_console(phone)
        record = ClientRecord(client_id=client_id, state=CONNECTING if phone else PAIRING, phone=phone)
        worker = self._new_worker(record)
        entry = Entry(worker, Stage.RESERVED)
        with self._lock:
            if client_id in self._entries:
                raise Conflict(f"A client with id '{client_id}' exists already.")
            self._entries[client_id] = entry  # reserved: concurrent creates of this id now conflict
            self._order.add(client_id)
        try:
            self._store.create_client(record)
        except DuplicateClient:
            self._forget(client_id, entry)
            raise Conflict(f"A client with id '{client_id}' exists already.") from None
        except BaseException:
            self._forget(client_id, entry)
            raise
        worker.created()
        if self._events is not None:
            self._events.client_created(client_id)
        log.info("[%s] created (%s pairing)", client_id, "phone" if phone else "console")
        if not self.claim_new(client_id):  # another instance took it first: it runs there
            self._forget(client_id, entry)
            return worker.status()
        self._start_created(entry, phone)
        if phone is not None:
            worker.wait_for_pairing_code(self._pairing_code_wait)
        return worker.status()

    def _start_created(self, entry: Entry, phone: str | None) -> None:
        """Start a created client's worker and show it to requests; if it cannot start, take its row back
        (no request saw it, so none can have started or deleted it meanwhile)."""
        try:
            entry.worker.start(phone=phone)
        except BaseException:
            log.warning("[%s] created but not started; removing it again", entry.worker.client_id)
            self._store.delete_client(entry.worker.client_id)
            self._forget(entry.worker.client_id, entry)
            raise
        with self._lock:
            entry.stage = Stage.LIVE

    def _forget(self, client_id: str, entry: Entry) -> None:
        with self._lock:
            if self._entries.get(client_id) is entry:
                del self._entries[client_id]
                self._order.remove(client_id)

    def list(self) -> list[ClientStatus]:
        """Every client's status, sorted by id."""
        return self._with_elsewhere([w.status() for _, w in sorted(self._live_workers(), key=lambda item: item[0])])

    def page(self, limit: int, after: str | None = None, state: str | None = None,
             visible: Callable[[str], bool] | None = None) -> tuple[list[ClientStatus], str | None]:
        """Up to `limit` clients sorted by id after the id `after`, only of `state` if given (and only those
        `visible` lets through); and the id the next page starts after, None at the end."""
        with self._lock:
            ids = self._order.after(after)
        return page_of(ids, self._entries, limit, state, visible)

    def get(self, client_id: str) -> ClientStatus:
        try:
            return self._here(self._worker(client_id).status())
        except NotFound:
            return self._status_elsewhere(client_id)  # CLUSTER=on: from the store; else NotFound again

    def pair(self, client_id: str, phone: str | None) -> ClientStatus:
        """Pair a CLOSED or unpaired client again (a new code); Conflict when it is paired and running.

        Takes turns with a delete of the client: it pairs a client no delete has begun on, or answers NotFound."""
        with self._changing(client_id) as worker:
            phone = self._pair(client_id, worker, phone)
        if phone is not None:
            worker.wait_for_pairing_code(self._pairing_code_wait)
        return worker.status()

    def _pair(self, client_id: str, worker: ClientWorker, phone: str | None) -> str | None:
        """Under the entry's lock: check and start the pairing; returns the phone it pairs (None: console)."""
        status = worker.status()
        if phone is None and status.jid is None and status.phone is not None:
            phone = status.phone  # an unlinked client pairs its number again: a fresh code
        self._require_phone_or_console(phone)
        if status.state in (SYNCING, READY) or (status.jid and worker.is_running()):
            raise Conflict(f"Client '{client_id}' is {status.state} and paired; delete it to link another phone.")
        if status.jid and phone is None and status.state == CLOSED:
            log.info("[%s] reconnecting with its stored session", client_id)
        try:
            worker.pair(phone)
        except RuntimeError:  # the restore thread started it meanwhile (the first seconds of the process)
            if phone is not None or not worker.is_running():
                raise Conflict(f"Client '{client_id}' is starting; try again in a moment.") from None
        return phone

    def while_live(self, client_id: str, action: Callable[[], T]) -> T:
        """Run `action` (e.g. a webhook's store write) while the client is LIVE and no pair or delete of it
        runs; NotFound if it is not, or stops being while this waits its turn. Returns what it returned."""
        with self._changing(client_id):
            return action()

    def qr(self, client_id: str) -> str:
        data = self._worker(client_id).qr()
        if data is None:
            raise NotFound(f"Client '{client_id}' has no QR code pending.")
        return data

    def delete(self, client_id: str) -> Unlinked:
        """Remove a client in any state (see ClientWorker.delete); raises StoreError, changing nothing.

        Waits a bounded time (a few seconds) for the device to be unlinked at WhatsApp; says whether it was.
        From its start the client is gone for other requests (NotFound); a second delete answers NotFound.
        """
        entry = self._live(client_id)
        with self._lock:
            if entry.stage is not Stage.LIVE:  # another delete began since the lookup
                raise NotFound(f"No client with id '{client_id}'.")
            entry.stage = Stage.DELETING
        try:
            with entry.changing:  # after a pair or webhook change under way; none starts after
                unlinked = entry.worker.delete()
                if self._events is not None:
                    self._events.forget_client(client_id)
        except BaseException:
            with self._lock:  # nothing was deleted (StoreError): the client goes on
                entry.stage = Stage.LIVE
            raise
        self._forget(client_id, entry)
        log.info("[%s] deleted (%s)", client_id, "unlinked" if unlinked.unlinked else "not unlinked")
        return unlinked

    def send_text(self, client_id: str, to: str, text: str, *, wait: bool = True,
                  idempotency_key: str | None = None) -> Sent | Accepted:
        """send_message of a plain text."""
        return self.send_message(client_id, SendRequest(to, text), wait=wait, idempotency_key=idempotency_key)

    def send_message(self, client_id: str, request: SendRequest, *, wait: bool = True,
                     idempotency_key: str | None = None, admin: bool = True) -> Sent | Accepted:
        """Accept a send into the client's queue; with `wait`, wait up to SEND_WAIT for WhatsApp's answer
        while a waiting slot is free (else answer Accepted at once). `request.to`: a JID, or '+<digits>'
        that WhatsApp resolves first. An idempotency key answers a repeated request with its first send.
        Its media is taken in first (a URL fetched, an id checked: MediaKit.take_in; `admin`: the caller
        may use media of no client)."""
        worker = self._submitter(client_id)  # the client's worker, or with CLUSTER=on its queue elsewhere
        idem = (idempotency_key, request_hash(client_id, request)) if idempotency_key else None
        request, media_id = self._media.take_in(client_id, request, admin=admin)
        payload = to_payload(request)
        return self._wait_slots.waiting(wait, self._send_options.wait, lambda seconds: worker.submit(
            request.to, request.body, idem, wait=seconds, payload=None if payload is None else (payload, media_id)))

    def message_action(self, client_id: str, request: ActionRequest, *, wait: bool = True,
                       idempotency_key: str | None = None) -> Sent | Accepted:
        """A reaction, edit, revoke or read mark, queued and answered like a send (sending/action_sends.py)."""
        worker = self._worker(client_id)
        return self._wait_slots.waiting(wait, self._send_options.wait,
                                        lambda seconds: worker.act(request, idempotency_key, wait=seconds))

    def groups(self, client_id: str) -> ClientGroups:
        """The client's groups (wamulti/groups/client_groups.py); NotFound for an unknown client."""
        return self._worker(client_id).groups

    def lookups(self, client_id: str) -> Lookups:
        """The client's presence, number checks, contacts, pictures and profile (clients/lookups.py)."""
        return self._worker(client_id).lookups

    def queue_length(self, client_id: str) -> int:
        """The client's sends queued or under way (NotFound if there is no such client)."""
        return self._worker(client_id).queue.open_count()

    def message_status(self, message_id: str) -> OutboundRow:
        """A send's row (NotFound if unknown); a queued one past SEND_EXPIRY reads (and becomes) failed."""
        row = self._store.get_send(message_id)
        if row is None:
            raise NotFound(f"No message with id '{message_id}'.")
        cutoff = utcnow() - timedelta(seconds=self._send_options.expiry)
        if row.state == QUEUED and row.created_at and row.created_at < cutoff:
            self._store.set_send_state(message_id, FAILED, reason=EXPIRED)
            row = self._store.get_send(message_id) or row
        return row

    def retry_media(self, media_id: str, visible: Callable[[str], bool] = lambda client_id: True) -> dict:
        """Download an incoming media again (its client must be READY); NotFound for an unknown id or
        one of a client `visible` says no to."""
        source = self._intake.source(media_id) if self._intake is not None else None
        if source is None or not visible(source.client_id):
            raise NotFound(f"No media with id '{media_id}'.")
        return self._worker(source.client_id).retry_media(media_id)

    def health(self) -> dict:
        try:
            self._store.ping()
            store_ok = True
        except StoreError:
            store_ok = False
        workers = [worker for _, worker in self._live_workers()]
        lags = [w.status().snapshot_lag for w in workers]
        behind = [lag for lag in lags if lag > 0]
        return {"store_ok": store_ok, "clients": len(workers),
                "snapshots": {"behind": len(behind), "maxLagSeconds": round(max(behind, default=0.0), 1)}}

    # ---- process lifecycle ---------------------------------------------------------------------
    def restore_all(self, stagger: float = RESTORE_STAGGER) -> int:
        """Load every stored client and reconnect the paired ones (see comes_back); never prompts.

        Every client is registered (listed, CONNECTING) before this returns; the returning ones are
        started by the `restore` thread, one every `stagger` seconds from one origin, so that a
        thousand threads do not start (and query the store) in one herd, each start() waiting for
        the GIL behind all the others. The stored snapshots' meta is read for all clients in one
        query: a worker does not ask the store again whether its local file is the newest copy.
        Returns how many clients reconnect.
        """
        records = self._store.list_clients()
        stored = snapshot_meta_of_all(self._store)
        returning = []
        for record in records:
            if record.jid is None and record.state != CLOSED:
                record = mark_incomplete(self._store, record)
            back = comes_back(record)
            if back:  # not READY until it is: the stored state is the last run's
                record = replace(record, state=CONNECTING)
            worker = self._new_worker(record)
            with self._lock:
                self._entries[record.client_id] = Entry(worker, Stage.LIVE)
                self._order.add(record.client_id)
            if back:
                if stored is not None:
                    worker.know_stored(stored.get(record.client_id))
                returning.append(worker)
        self._restorer = StaggeredStarts(self._store, self._send_options.owner, self._stopping)
        self._restorer.start(returning, stagger)
        log.info("restored %d clients (%d reconnecting)", len(records), len(returning))
        return len(returning)

    def stop_all(self, timeout: float = STOP_ALL_SECONDS) -> list[str]:
        """Stop every worker (final snapshots saved) within timeout; return the ids that did not stop."""
        self._stopping.set()
        if self._restorer is not None:
            self._restorer.join(timeout)  # it checks the flag between two starts
        with self._lock:
            workers = [entry.worker for entry in self._entries.values()]
        for worker in workers:
            worker.stop()
        deadline = time.monotonic() + timeout
        stragglers = [w.client_id for w in workers if not w.join(max(0.0, deadline - time.monotonic()))]
        if stragglers:
            log.warning("workers still running after %gs: %s", timeout, ", ".join(stragglers[:20]))
        return stragglers
