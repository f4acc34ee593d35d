"""MediaUpkeep: thread `media-upkeep` prunes old media every UPKEEP_EVERY seconds (sooner while a
pass came back full), the way sending/queue_upkeep.py keeps the send queue."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..store.client_rows import utcnow
from ..store.store_api import StoreError

log = logging.getLogger(__name__)

UPKEEP_EVERY = 300.0
AGAIN_SOON = 1.0
BATCH = 500


class MediaUpkeep:
    """start() once; stop() ends the thread (the store must still be open until then)."""

    def __init__(self, library, is_referenced: Callable[[list[str]], set[str]], every: float = UPKEEP_EVERY,
                 batch: int = BATCH):
        self._library, self._is_referenced, self._every, self._batch = library, is_referenced, every, batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="media-upkeep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_once(self) -> int:
        """One pass; how many records were pruned. Raises StoreError."""
        return self._library.prune(utcnow(), self._is_referenced, self._batch)

    def _main(self) -> None:
        wait = 0.0
        while not self._stop.wait(wait):
            try:
                pruned = self.run_once()
            except (StoreError, OSError) as exc:
                log.warning("media upkeep skipped (%s: %s)", type(exc).__name__, exc)
                wait = self._every
                continue
            except Exception:  # a check another part added failed: log it, keep the thread
                log.exception("media upkeep failed")
                wait = self._every
                continue
            wait = AGAIN_SOON if pruned >= self._batch else self._every
