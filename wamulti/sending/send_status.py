"""SendStatus: a send's row follows its message's acks (`delivered`, `read`).

It sits between a client's Hearing and the event log: every event goes on to the log unchanged;
an ack of a send made through the queue (it carries wamulti's `messageId`) also moves that send's
row forward. The `server` ack is not written here: it is published when the send returns, and the
Dispatcher writes the row `server` with the send's outcome (one write instead of two).

The statuses of every client go through one StatusWriter per store: whatever arrived while the
previous batch was written goes in one transaction, and nobody waits for it (the event, already
stored, is the record; the row's status follows within moments). A store that is down only costs
the statuses of that batch their step, never the event.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from ..batches import BatchThread
from ..hearing.event_model import EventType
from ..hearing.heard_events import EventSink
from ..store.send_rows import DELIVERED, READ
from ..store.store_api import SessionStore, StoreError

log = logging.getLogger(__name__)

TRACKED = {DELIVERED: DELIVERED, READ: READ, "played": READ}  # ack status -> row status
MAX_BATCH = 500
IDLE_EXIT = 30.0  # seconds without statuses before the writer's thread ends


class StatusWriter:
    """One thread writing the statuses any thread adds, a batch per transaction."""

    def __init__(self, store: SessionStore):
        self._store = store
        self._thread = BatchThread("status-writer", self._write, max_batch=MAX_BATCH, idle_exit=IDLE_EXIT)
        self.batches = 0  # transactions written (tests)

    def add(self, message_id: str, state: str) -> None:
        self._thread.put((message_id, state))

    def _write(self, batch: list[tuple[str, str]]) -> None:
        try:
            self.batches += 1
            self._store.advance_sends(batch)
        except StoreError as exc:
            log.debug("%d send statuses not stored: %s", len(batch), exc)


_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def status_writer_for(store: SessionStore) -> StatusWriter:
    """The store's writer, made on first use."""
    with _writers_lock:
        writer = _writers.get(store)
        if writer is None:
            writer = _writers[store] = StatusWriter(store)
        return writer


class SendStatus:
    """An EventSink that passes everything on and hands ack statuses to the store's StatusWriter."""

    def __init__(self, sink: EventSink, store: SessionStore):
        self._sink = sink
        self._writer = status_writer_for(store)

    def publish(self, client_id: str, type: EventType, data: dict[str, Any]) -> object:
        published = self._sink.publish(client_id, type, data)
        if type == EventType.MESSAGE_ACK and data.get("messageId") and data.get("status") in TRACKED:
            self._writer.add(data["messageId"], TRACKED[data["status"]])
        return published

    def forget_client(self, client_id: str) -> None:
        self._sink.forget_client(client_id)

    def client_created(self, client_id: str) -> None:
        self._sink.client_created(client_id)
