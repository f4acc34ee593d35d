"""QueuePickup (thread `queue-pickup`, CLUSTER=on): every PICKUP_SECONDS the queued rows of the
clients this instance owns, accepted by any instance, are handed to their queues (the rows this
instance accepted itself are there already and skipped). One indexed query per instance per look,
whatever the number of clients; a send accepted elsewhere starts within PICKUP_SECONDS."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from ..store import StoreError

log = logging.getLogger(__name__)

PICKUP_SECONDS = 0.5


class QueuePickup:
    def __init__(self, store, instance_id: str, pick_up: Callable[[Sequence], None], every: float = PICKUP_SECONDS):
        self._store, self._instance_id, self._pick_up, self._every = store, instance_id, pick_up, every
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="queue-pickup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)

    def pick_up_once(self) -> int:
        rows = self._store.queued_sends_of_owner(self._instance_id)
        if rows:
            self._pick_up(rows)
        return len(rows)

    def _main(self) -> None:
        while not self._stopping.wait(self._every):
            try:
                self.pick_up_once()
            except StoreError as exc:
                log.debug("queue pickup skipped a look: %s", exc)
            except Exception:
                log.exception("queue pickup failed")
