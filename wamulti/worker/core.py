"""ClientWorker: one client, as the registry sees it; every method here may be called from any thread.

It answers queries from the ClientView, hands commands to the current Run's thread through its
inbox, and starts a fresh Run (see run.py, the state machine) on each start(). Persistence lives
as long as the worker: the delete guard and what was last saved survive a restart.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from ..backends.base import Backend
from ..errors import NotReady
from ..store.base import ClientRecord, SessionStore
from .hearing import EventSink, Hearing, NoEvents
from .messages import PairAgain, Stop
from .pairing import Prompter
from .persistence import Persistence
from .run import Options, Run
from .sender import SEND_TIMEOUT, Sent
from .states import READY, ClientStatus
from .view import ClientView

SNAPSHOT_INTERVAL = 3.0
STOP_JOIN_SECONDS = 5.0


class ClientWorker:
    """One client: its state, its thread, its backend session and its persisted data."""

    def __init__(self, record: ClientRecord, *, backend: Backend, store: SessionStore, prompter: Prompter,
                 data_dir: Path, pairing_timeout: float, send_timeout: float = SEND_TIMEOUT,
                 snapshot_interval: float = SNAPSHOT_INTERVAL, events: EventSink | None = None):
        self.client_id = record.client_id
        self.session_path = Path(data_dir) / "sessions" / f"{record.client_id}.session"
        self._options = Options(record.client_id, backend, prompter, self.session_path,
                                pairing_timeout, send_timeout, snapshot_interval)
        self._view = ClientView(record)
        self._persist = Persistence(record.client_id, store, self.session_path)
        self._hearing = Hearing(record.client_id, events or NoEvents())  # lasts across runs: ack order
        self._lock = threading.Lock()  # guards _thread and _run; never held across I/O
        self._thread: threading.Thread | None = None
        self._run = self._new_run()  # idle until start(); stop() and send_text() use it meanwhile

    def _new_run(self) -> Run:
        return Run(self._options, self._view, self._persist, self._hearing)

    # ---- queries -----------------------------------------------------------------------------
    def status(self) -> ClientStatus:
        status = self._view.status()
        if status.jid is None:  # no keys yet: nothing to be behind on
            return status
        lag, synced_at = self._persist.snapshot_lag()
        return replace(status, snapshot_lag=lag, last_snapshot_at=synced_at)

    @property
    def state(self) -> str:
        return self._view.state

    def qr(self) -> str | None:
        return self._view.pending_qr()

    def is_running(self) -> bool:
        with self._lock:
            return self._alive()

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_for_pairing_code(self, timeout: float) -> None:
        """Block (a request thread) until a code was issued or pairing ended, at most timeout."""
        self._view.wait_for_pairing_code(timeout)

    def wait_for_state(self, states: set[str], timeout: float) -> bool:
        """Block until the state is one of states; True if it got there in time."""
        return self._view.wait_for_state(states, timeout)

    # ---- commands ----------------------------------------------------------------------------
    def start(self, *, phone: str | None = None, delay: float = 0.0, fresh_pairing: bool = False) -> None:
        """Start the worker thread; with fresh_pairing, forget the old pairing and pair anew."""
        with self._lock:
            if self._alive():
                raise RuntimeError("worker already running")
            if self._persist.deleted:
                raise RuntimeError("worker was deleted")
            self._view.clear_pairing()
            self._view.expect_new_code()
            self._run = self._new_run()
            self._run.open_inbox()
            self._thread = threading.Thread(target=self._run.main, args=(phone, delay, fresh_pairing),
                                            name=f"wa-{self.client_id}", daemon=True)
            thread = self._thread
        thread.start()

    def pair(self, phone: str | None) -> None:
        """Pair again: restart a running, unpaired attempt, or start a CLOSED client.

        A CLOSED client that still holds keys and gets no phone reconnects with them; a phone
        always means a fresh pairing.
        """
        with self._lock:
            running, run = self._alive(), self._run
            if running:
                self._view.expect_new_code()
        if running and run.post(PairAgain(phone)):
            return
        self.join(STOP_JOIN_SECONDS)  # a run that refused the command is on its way out
        self.start(phone=phone, fresh_pairing=phone is not None)

    def stop(self) -> None:
        """Ask the worker to stop (a final snapshot is saved on its thread); returns at once."""
        self._post_stop(delete=False)

    def delete(self) -> None:
        """Delete the client in any state; the whole sequence lives here.

        Store writes are blocked first (after one in flight), so no late write brings the row
        back; then the rows are deleted. If that raises StoreError nothing changed and the client
        goes on. Logout and stop then run on the worker thread, not the caller's; returns at once.
        """
        self._hearing.mute()
        try:
            self._persist.delete_rows()
        except BaseException:
            self._hearing.unmute()  # nothing was deleted: the client goes on as it was
            raise
        self._post_stop(delete=True)

    def _post_stop(self, *, delete: bool) -> None:
        with self._lock:
            run = self._run
        if run.post(Stop(delete)):
            return
        if delete:  # no run will handle it: do its part here
            self._persist.forget_keys()
        run.sender.shutdown()

    def join(self, timeout: float) -> bool:
        """Wait for the worker thread to end; True if it did."""
        with self._lock:
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def send_text(self, to: str, text: str) -> Sent:
        """Send on the client's pool within the send timeout, never blocking other clients.

        `to` is a JID (sent as given) or '+<digits>' (resolved with WhatsApp first); see Sender."""
        run, state = self._run, self._view.state
        session = run.connection.session
        if state != READY or session is None:
            raise NotReady(f"Client '{self.client_id}' is {state}, not READY.", current_state=state)
        return run.sender.send(session, to, text)
