"""Admission: the door between request threads and a client's send queue, shut while a delete runs.

A send is stored as a row of the client's outbound queue. A delete removes the client's rows in one
transaction; a send whose row was written just after it would leave a queued row of a client that
no longer exists (and no queue to send it). So a delete shuts the door, waits for the sends already
through it to have written their rows (which its transaction then removes), and only then deletes.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Iterator

from ..errors import NotFound

log = logging.getLogger(__package__)

DRAIN_SECONDS = 30.0  # a store write of a send is bounded well below this by the store's own timeouts


class Admission:
    """Counts the sends writing their rows; shut() waits for them and lets no more in. Thread-safe."""

    def __init__(self, client_id: str):
        self._client_id = client_id
        self._cond = threading.Condition()
        self._inside = 0  # sends between the door and their stored row
        self._shut = False

    @contextmanager
    def enter(self) -> Iterator[None]:
        """Around one send's row write; NotFound once a delete has begun."""
        with self._cond:
            if self._shut:
                raise NotFound(f"No client with id '{self._client_id}' (it is being deleted).")
            self._inside += 1
        try:
            yield
        finally:
            with self._cond:
                self._inside -= 1
                if not self._inside:
                    self._cond.notify_all()

    def shut(self, timeout: float = DRAIN_SECONDS) -> None:
        """A delete begins (any thread): refuse new sends, wait for the rows of those inside."""
        with self._cond:
            self._shut = True
            if not self._cond.wait_for(lambda: not self._inside, timeout):
                log.warning("[%s] %d sends still writing after %gs; deleting anyway", self._client_id,
                            self._inside, timeout)

    def reopen(self) -> None:
        """The delete failed and changed nothing: sends are welcome again."""
        with self._cond:
            self._shut = False
