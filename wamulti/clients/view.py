"""ClientView: what other threads see of a client, and how they wait for it to change.

The worker thread is the only writer, except that a pair command clears the old code before it
hands over to the worker thread, so that its caller waits for the new one. Waiters are woken by
record updates (and by `release_waiters` when the thread ends), not by pairing-field changes: a
caller woken for a pairing code then sees the code and the PAIRING state together.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timezone

from ..backends.reasons import retry_at_of
from ..store.store_api import ClientRecord
from .states import CONNECTING, PAIRING, ClientStatus


class ClientView:
    """The client's record, pairing code and QR, behind one lock; never held across I/O."""

    def __init__(self, record: ClientRecord):
        self._changed = threading.Condition()
        self._record = record
        self._code: str | None = None
        self._qr: str | None = None
        self._settled = False  # a code was issued, or pairing ended, since the last pair request
        self._expires_at: datetime | None = None  # end of the backend's QR window (or the attempt)

    # ---- reads (any thread) ------------------------------------------------------------------
    def status(self) -> ClientStatus:
        with self._changed:
            r = self._record
            retry_at = retry_at_of(r.last_error) if r.state == CONNECTING else None  # a temporary ban's expiry
            return ClientStatus(r.client_id, r.state, self._code, r.phone, r.jid, r.last_error, r.updated_at,
                                retry_at, self._expires_at)

    @property
    def record(self) -> ClientRecord:
        with self._changed:
            return self._record

    @property
    def state(self) -> str:
        with self._changed:
            return self._record.state

    @property
    def pairing_code(self) -> str | None:
        with self._changed:
            return self._code

    def pending_qr(self) -> str | None:
        """The QR string while the client waits to be linked, else None."""
        with self._changed:
            return self._qr if self._record.state in (CONNECTING, PAIRING) else None

    def wait_for_pairing_code(self, timeout: float) -> None:
        """Block until a code was issued or pairing ended, at most timeout."""
        with self._changed:
            self._changed.wait_for(lambda: self._settled, timeout)

    def wait_for_state(self, states: set[str], timeout: float) -> bool:
        """Block until the state is one of states; True if it got there in time."""
        with self._changed:
            return self._changed.wait_for(lambda: self._record.state in states, timeout)

    # ---- writes ------------------------------------------------------------------------------
    def update(self, **fields) -> tuple[ClientRecord, ClientRecord]:
        """Change the record (stamped now) and wake waiters; returns (old, new)."""
        with self._changed:
            old = self._record
            self._record = replace(old, **fields, updated_at=datetime.now(timezone.utc))
            self._changed.notify_all()
            return old, self._record

    def show_qr(self, data: str) -> None:
        with self._changed:
            self._qr = data

    def show_expiry(self, moment: datetime | None) -> None:
        """When the QR window of this attempt closes (None: no window open)."""
        with self._changed:
            self._expires_at = moment

    def show_code(self, code: str) -> None:
        with self._changed:
            self._code, self._settled = code, True

    def settle(self) -> None:
        """Pairing ended without a code (for now): a waiter returns at the next record update."""
        with self._changed:
            self._settled = True

    def clear_pairing(self, *, settled: bool = False) -> None:
        """The attempt's code and QR are void; with settled, its waiters may return."""
        with self._changed:
            self._code, self._qr, self._expires_at = None, None, None
            self._settled = self._settled or settled

    def expect_new_code(self) -> None:
        """A caller is about to wait for the code of a new attempt."""
        with self._changed:
            self._code, self._settled = None, False

    def release_waiters(self) -> None:
        """The worker thread ended: nobody waits for a code any longer."""
        with self._changed:
            self._settled = True
            self._changed.notify_all()
