"""Sender: a client's small send pool, where the rows of its outbound queue are sent.

Every send has its message id before anything goes out (`new_message_id`, given when the send is
accepted into the queue), so a caller who stopped waiting still holds the id by which its outcome
is told. A recipient given as '+<digits>' is first resolved with WhatsApp (RecipientBook).
Which row is sent when (order per chat, the rate cap) is the Dispatcher's business (dispatcher.py):
it hands over a row claimed in the store; this module sends it and reports how it ended, once; the
answer may be the chat's next row, claimed with that outcome, which the same thread sends next (a
hand-over per send woke another pool thread for it: CPU for nothing).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Protocol

from ..backends.backend_api import BackendError, BackendSession, NotConnected, Outgoing, SentMessage
from ..errors import DomainError, RecipientNotOnWhatsApp, Upstream
from ..fields.phone import phone_of_recipient
from ..hearing.heard_events import Hearing
from ..randomness import random_bytes
from ..store.send_rows import OutboundRow
from .action_payloads import ActionRequest, action_of
from .recipients import RecipientBook

if TYPE_CHECKING:
    from .preparation import Preparation

log = logging.getLogger(__name__)

SEND_THREADS = 4


def new_message_id() -> str:
    """A message id in WhatsApp's own shape ('3EB0' + 18 hex digits, 72 random bits)."""
    return "3EB0" + random_bytes(9).hex().upper()


@dataclass(frozen=True)
class Sent:
    """A send WhatsApp accepted: wamulti's id, WhatsApp's id, the JID it went to, when."""

    message_id: str
    wa_message_id: str | None  # None for a read mark: no message went out
    to: str
    timestamp: datetime  # aware, UTC


Outcome = Sent | DomainError
"""How a send ended: WhatsApp accepted it, or the error that tells why not (nothing went out)."""


class Lane(Protocol):
    """Where a send's outcome goes (the Dispatcher): a row comes claimed and leaves with its outcome."""

    def finish(self, row: OutboundRow, outcome: Outcome, sender: "Sender") -> tuple[bool, OutboundRow | None]:
        """Keep how the send ended: (True if a request was waiting for it and was told, the chat's
        next row, claimed in the same write, if this thread is to send it next)."""


class Sender:
    """Runs sends on `wa-<clientId>-send` threads; one per Run (shut down when the run ends)."""

    def __init__(self, client_id: str, hearing: Hearing, preparation: "Preparation | None" = None,
                 book: RecipientBook | None = None):
        """`book`: the client's answers to "is this number on WhatsApp?" (shared with its lookups)."""
        self._client_id = client_id
        self._hearing = hearing
        self._preparation = preparation  # makes a row's payload (media, location, ...) sendable
        self._book = book if book is not None else RecipientBook()
        self._pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix=f"wa-{client_id}-send")
        self._closed = False

    def submit(self, session: BackendSession, row: OutboundRow, lane: Lane) -> bool:
        """Send the row on the pool (see _run); False if the pool is shut down (the run is ending)."""
        try:
            self._pool.submit(self._run, session, row, lane)
        except RuntimeError:
            return False
        return True

    def shutdown(self) -> None:
        """Refuse new sends; sends under way finish on their own (and no chat's next row follows them)."""
        self._closed = True
        self._pool.shutdown(wait=False)

    @property
    def open(self) -> bool:
        """False once shut down: the run is ending, no new send starts on this sender."""
        return not self._closed

    # ---- the send threads ----------------------------------------------------------------------
    def _run(self, session: BackendSession, row: OutboundRow, lane: Lane) -> None:
        """Send the claimed row, then the rows of its chat that may follow it at once, on this thread:
        no hand-over to another thread between a chat's sends."""
        next_row: OutboundRow | None = row
        while next_row is not None:
            self._hearing.send_started()
            outcome = self._attempt(session, next_row)
            told, following = lane.finish(next_row, outcome, self)
            self._acknowledge(next_row, outcome, told)
            next_row = following

    def _acknowledge(self, row: OutboundRow, outcome: Outcome, told: bool) -> None:
        """The acks, after the row says how it ended (`server` after `sent`)."""
        try:
            if isinstance(outcome, Sent) and outcome.wa_message_id is None:  # a read mark: nothing to ack
                self._hearing.send_ended(outcome.to, None, row.message_id)
            elif isinstance(outcome, Sent):
                self._hearing.send_ended(outcome.to, SentMessage(outcome.wa_message_id, outcome.timestamp),
                                         row.message_id)
            else:  # told in the answer: a `failed` ack only when no request heard it
                self._hearing.send_ended(row.chat or row.recipient, None, row.message_id,
                                         failure=None if told else outcome.message)
        except Exception:  # a bug must not strand the chat's next row: log it and go on
            log.exception("[%s] acks of send %s not published", self._client_id, row.message_id)

    def _attempt(self, session: BackendSession, row: OutboundRow) -> Outcome:
        try:
            return self._deliver(session, row)
        except DomainError as exc:
            return exc
        except Exception as exc:
            log.error("[%s] send %s failed unexpectedly", self._client_id, row.message_id, exc_info=exc)
            return Upstream("The send failed with an internal error.")

    def _deliver(self, session: BackendSession, row: OutboundRow) -> Sent:
        action = action_of(row.payload)
        if action is not None and self._preparation is not None:  # a failed target fails it, named, first
            self._preparation.actions.key(action, row.recipient)
        digits = phone_of_recipient(row.recipient)
        jid = row.recipient if digits is None else self._resolve(session, digits)
        try:
            if action is not None:
                return self._act(session, row, action, jid)
            if row.payload is None:  # a plain text
                sent = session.send_text(jid, row.body, row.message_id)
            else:
                sent = session.send_message(jid, self._outgoing(session, row, jid), row.message_id)
        except NotConnected as exc:
            raise Upstream(f"The client is not connected to WhatsApp: {exc}") from None
        except BackendError as exc:
            raise Upstream(f"WhatsApp refused or failed the send: {exc}") from None
        return Sent(row.message_id, sent.message_id, jid, sent.timestamp)

    def _act(self, session: BackendSession, row: OutboundRow, action: ActionRequest, jid: str) -> Sent:
        """A reaction, edit, revoke (WhatsApp's id of the new message) or read mark (no message: no id)."""
        if self._preparation is None:
            raise Upstream("This client cannot send message actions.")
        sent = self._preparation.actions.perform(session, action, jid, row.message_id)
        if sent is None:
            return Sent(row.message_id, None, jid, datetime.now(timezone.utc))
        return Sent(row.message_id, sent.message_id, jid, sent.timestamp)

    def _outgoing(self, session: BackendSession, row: OutboundRow, jid: str) -> Outgoing:
        if self._preparation is None:
            raise Upstream("This client cannot send anything but text.")
        return self._preparation.outgoing(session, row.payload, jid)

    def _resolve(self, session: BackendSession, digits: str) -> str:
        try:
            jid = self._book.resolve(digits, session.lookup_phone)
        except NotConnected as exc:
            raise Upstream(f"The client is not connected to WhatsApp: {exc}") from None
        except BackendError as exc:
            raise Upstream(f"WhatsApp did not say whether the number is on WhatsApp: {exc}") from None
        if jid is None:
            raise RecipientNotOnWhatsApp("The recipient's phone number is not on WhatsApp; nothing was sent.")
        return jid
