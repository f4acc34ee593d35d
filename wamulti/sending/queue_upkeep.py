"""QueueUpkeep: the outbound table kept in shape for every client, whether its queue runs or not.

Every UPKEEP_EVERY seconds (sooner while a batch came back full), one thread `send-upkeep`:
- fails as `expired` the rows still `queued` past SEND_EXPIRY, also those of stopped, CLOSED or
  never-started clients, whose queue thread does not run (a running queue expires its own too);
- fails as `outcome_unknown` the rows `sending` for longer than any send takes (STALE_SENDING):
  their instance died and did not come back to fail them itself;
- deletes finished rows older than IDEMPOTENCY_HOURS (their keys with them).
Each step is one bounded statement batch (PRUNE_BATCH rows), so a pass is cheap. Each failed row
also publishes its `message.ack` `failed`, as a running queue would.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from ..hearing.event_model import EventType, iso_ms
from ..hearing.heard_events import EventSink
from ..store.client_rows import utcnow
from ..store.send_rows import IDEMPOTENCY_HOURS, PRUNE_BATCH, QUEUED, SENDING, OutboundRow
from ..store.store_api import SessionStore, StoreError
from .send_options import EXPIRED, OUTCOME_UNKNOWN

log = logging.getLogger(__name__)

UPKEEP_EVERY = 60.0
AGAIN_SOON = 1.0  # seconds to the next pass after a full batch
STALE_SENDING = 900.0  # seconds: no send is under way this long (the backends time out well before)


class QueueUpkeep:
    """start() once; stop() ends the thread (the store must still be open until then)."""

    def __init__(self, store: SessionStore, sink: EventSink, expiry: float, every: float = UPKEEP_EVERY,
                 stale: float = STALE_SENDING, batch: int = PRUNE_BATCH):
        self._store, self._sink = store, sink
        self._expiry, self._every, self._stale, self._batch = expiry, every, stale, batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="send-upkeep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_once(self) -> dict[str, int]:
        """One pass; how many rows each step changed. Raises StoreError."""
        now = utcnow()
        expired = self._store.fail_old_sends(QUEUED, now - timedelta(seconds=self._expiry), EXPIRED, self._batch)
        unknown = self._store.fail_old_sends(SENDING, now - timedelta(seconds=self._stale), OUTCOME_UNKNOWN,
                                             self._batch)
        pruned = self._store.prune_sends(now - timedelta(hours=IDEMPOTENCY_HOURS), self._batch)
        self._publish(expired, EXPIRED)
        self._publish(unknown, OUTCOME_UNKNOWN)
        if unknown:
            log.warning("%d sends under way for over %gs marked failed (%s)", len(unknown), self._stale,
                        OUTCOME_UNKNOWN)
        return {"expired": len(expired), "outcome_unknown": len(unknown), "pruned": pruned}

    def _main(self) -> None:
        wait = 0.0
        while not self._stop.wait(wait):
            try:
                done = self.run_once()
            except StoreError as exc:
                log.warning("outbound upkeep skipped (store: %s)", exc)
                wait = self._every
                continue
            wait = AGAIN_SOON if max(done.values()) >= self._batch else self._every

    def _publish(self, rows: list[OutboundRow], reason: str) -> None:
        at = iso_ms(datetime.now(timezone.utc))
        for row in rows:
            self._sink.publish(row.client_id, EventType.MESSAGE_ACK, {
                "id": None, "messageId": row.message_id, "chat": row.chat or row.recipient, "status": "failed",
                "at": at, "reason": reason})
