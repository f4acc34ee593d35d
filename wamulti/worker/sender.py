"""Sender: a client's small send pool, so a request waits a bounded time for one client only.

Every send gets its message id before anything goes out (`new_message_id`), so a caller whose
send outlived SEND_TIMEOUT still holds an id by which its outcome is told later. A recipient given
as '+<digits>' is first resolved with WhatsApp (RecipientBook), inside the same deadline.

At the deadline a send that has not started is cancelled and never sent (SendCancelled); one under
way is abandoned (SendTimeout with its id): it may still go out, and when it ends its `server` ack
(or a `failed` one) is published with its id. Either way every send still queued behind it is
cancelled: it must not start later, unseen, behind a connection that stalls.
"""

from __future__ import annotations

import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from ..backends.base import BackendError, BackendSession, NotConnected, SentMessage
from ..errors import DomainError, NotReady, RecipientNotOnWhatsApp, SendCancelled, SendTimeout, Upstream
from ..phone import phone_of_recipient, user_jid
from .hearing import Hearing
from .recipients import RecipientBook
from .sendjob import JobState, SendJob
from .states import CLOSED

log = logging.getLogger(__name__)

SEND_TIMEOUT = 20.0
SEND_THREADS = 4


def new_message_id() -> str:
    """A message id in WhatsApp's own shape ('3EB0' + 18 hex digits, 72 random bits)."""
    return "3EB0" + secrets.token_hex(9).upper()


@dataclass(frozen=True)
class Sent:
    """A send WhatsApp accepted: wamulti's id, WhatsApp's id, the JID it went to, when."""

    message_id: str
    wa_message_id: str
    to: str
    timestamp: datetime  # aware, UTC


class Sender:
    """Runs sends on `wa-<clientId>-send` threads; any thread may call send()."""

    def __init__(self, client_id: str, timeout: float, hearing: Hearing):
        self._client_id = client_id
        self._timeout = timeout
        self._hearing = hearing
        self._book = RecipientBook()
        self._lock = threading.Lock()  # guards _queued
        self._queued: set[SendJob] = set()  # submitted, not started
        self._pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix=f"wa-{client_id}-send")

    def send(self, session: BackendSession, to: str, text: str) -> Sent:
        """Send and wait at most the timeout. Raises NotReady (stopping), Upstream, RecipientNotOnWhatsApp,
        SendCancelled (never sent) or SendTimeout (outcome unknown, told later by its id)."""
        digits = phone_of_recipient(to)
        job = SendJob(new_message_id(), to, text, user_jid(digits) if digits else to)
        with self._lock:
            self._queued.add(job)
        try:
            self._pool.submit(self._run, session, job)
        except RuntimeError:  # the pool was shut down: the client is being stopped
            self._unqueue(job)
            raise self._stopping() from None
        state, timed_out = job.wait(self._timeout, self._cancelled())
        if timed_out:
            self._cancel_queued()
        if state is JobState.RUNNING:
            log.warning("[%s] send %s still under way after %gs; its outcome follows as message.ack",
                        self._client_id, job.message_id, self._timeout)
            raise SendTimeout(f"WhatsApp did not confirm the message within {self._timeout:g} seconds; it may "
                              "still go out: its outcome follows as a message.ack event with this messageId.",
                              job.message_id)
        return job.outcome()

    def shutdown(self) -> None:
        """Refuse new sends and cancel queued ones; sends under way finish on their own."""
        self._pool.shutdown(wait=False)
        self._cancel_queued(self._stopping())

    # ---- the send threads ----------------------------------------------------------------------
    def _run(self, session: BackendSession, job: SendJob) -> None:
        if not job.start():
            return  # cancelled while queued: never sent
        self._unqueue(job)
        self._hearing.send_started()
        try:
            sent = self._deliver(session, job)
        except Exception as exc:
            if not isinstance(exc, DomainError):
                log.error("[%s] send %s failed unexpectedly", self._client_id, job.message_id, exc_info=exc)
            abandoned = job.finish(error=exc)
            reason = exc.message if isinstance(exc, DomainError) else "internal error"
            self._hearing.send_ended(job.chat, None, job.message_id, failure=reason if abandoned else None)
            return
        self._hearing.send_ended(sent.to, SentMessage(sent.wa_message_id, sent.timestamp), job.message_id)
        if job.finish(result=sent):
            log.info("[%s] send %s went out after its request had timed out", self._client_id, job.message_id)

    def _deliver(self, session: BackendSession, job: SendJob) -> Sent:
        digits = phone_of_recipient(job.to)
        jid = job.to if digits is None else self._resolve(session, digits)
        job.chat = jid
        try:
            sent = session.send_text(jid, job.text, job.message_id)
        except NotConnected as exc:
            raise Upstream(f"The client is not connected to WhatsApp: {exc}") from None
        except BackendError as exc:
            raise Upstream(f"WhatsApp refused or failed the send: {exc}") from None
        return Sent(job.message_id, sent.message_id, jid, sent.timestamp)

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

    # ---- the queue -----------------------------------------------------------------------------
    def _unqueue(self, job: SendJob) -> None:
        with self._lock:
            self._queued.discard(job)

    def _cancel_queued(self, error: DomainError | None = None) -> None:
        with self._lock:
            queued, self._queued = self._queued, set()
        for job in queued:
            job.cancel(error or self._cancelled())

    def _cancelled(self) -> SendCancelled:
        return SendCancelled(f"Not sent: this client's sends did not finish within {self._timeout:g} seconds "
                             "(the connection may be stalled); nothing was sent, so it is safe to retry.")

    def _stopping(self) -> NotReady:
        return NotReady(f"Client '{self._client_id}' is stopping.", current_state=CLOSED)
