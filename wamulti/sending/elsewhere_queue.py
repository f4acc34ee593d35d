"""Sends for a client another instance runs (CLUSTER=on): accepted into the durable queue here, sent
by the owner, which finds the row within a second (cluster/queue_pickup.py). A request that waits
for the outcome reads the row until it ends or the wait is over, as a send accepted by the owner
would answer.
"""

from __future__ import annotations

import time
from datetime import timedelta

from ..errors import IdempotencyKeyReused, NotFound, NotReady
from ..store.client_rows import utcnow
from ..store.send_rows import IDEMPOTENCY_HOURS, OutboundRow
from ..store.store_api import SessionStore
from .outcome import Accepted, accepted, outcome_of_row
from .sender import Sent, new_message_id

POLL_SECONDS = 0.1  # a waiting request's look at its row (at most HTTP_THREADS/2 wait at once)
NOT_SENDING = ("PAIRING", "CLOSED")  # states whose client takes no sends (as ClientWorker.submit says)


class ElsewhereQueue:
    """The queue of one client that runs on another instance; `submit` as ClientWorker.submit."""

    def __init__(self, store: SessionStore, client_id: str, queue_max: int):
        record = store.get_client(client_id)
        if record is None:
            raise NotFound(f"No client with id '{client_id}'.")
        self._store, self.client_id, self._queue_max, self._record = store, client_id, queue_max, record

    def submit(self, to: str, text: str, idem: tuple[str, str] | None = None, wait: float = 0.0,
               payload: tuple[str, str | None] | None = None) -> Sent | Accepted:
        record = self._record
        if record.jid is None or record.state in NOT_SENDING:
            raise NotReady(f"Client '{self.client_id}' is {record.state}, not READY.", current_state=record.state)
        key, digest = idem or (None, None)
        json_payload, media_id = payload or (None, None)
        row = OutboundRow(new_message_id(), self.client_id, to, text, idem_key=key, idem_hash=digest,
                          payload=json_payload, media_id=media_id)
        since = utcnow() - timedelta(hours=IDEMPOTENCY_HOURS)
        row, created = self._store.enqueue_send(row, self._queue_max, since)
        if not created and idem is not None and row.idem_hash != idem[1]:
            raise IdempotencyKeyReused("This Idempotency-Key was used with another request; nothing was sent.")
        deadline = time.monotonic() + wait
        while row.is_open and time.monotonic() < deadline:
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            row = self._store.get_send(row.message_id) or row
        outcome = outcome_of_row(row)
        if outcome is None:
            return accepted(row)
        if isinstance(outcome, Sent):
            return outcome
        raise outcome
