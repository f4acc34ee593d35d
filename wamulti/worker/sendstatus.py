"""SendStatus: a send's row follows its message's acks (`delivered`, `read`).

It sits between a client's Hearing and the event log: every event goes on to the log unchanged;
an ack of a send made through the queue (it carries wamulti's `messageId`) also moves that send's
row forward. The `server` ack is not written here: it is published when the send returns, and the
Dispatcher writes the row `server` with the send's outcome (one write instead of two). A store that is down only costs the status its step, never the event.
"""

from __future__ import annotations

import logging
from typing import Any

from ..events.model import EventType
from ..store.base import SessionStore, StoreError
from ..store.outbound import DELIVERED, READ
from .hearing import EventSink

log = logging.getLogger(__name__)

TRACKED = {DELIVERED: DELIVERED, READ: READ, "played": READ}  # ack status -> row status


class SendStatus:
    """An EventSink that passes everything on and writes ack statuses to the outbound rows."""

    def __init__(self, sink: EventSink, store: SessionStore):
        self._sink = sink
        self._store = store

    def publish(self, client_id: str, type: EventType, data: dict[str, Any]) -> object:
        published = self._sink.publish(client_id, type, data)
        if type == EventType.MESSAGE_ACK and data.get("messageId") and data.get("status") in TRACKED:
            try:
                self._store.set_send_state(data["messageId"], TRACKED[data["status"]])
            except StoreError as exc:
                log.debug("[%s] status of %s not stored: %s", client_id, data["messageId"], exc)
        return published

    def forget_client(self, client_id: str) -> None:
        self._sink.forget_client(client_id)
