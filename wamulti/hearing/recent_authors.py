"""Who wrote the messages a client heard lately: a group message's author, for the actions that need
it (a reaction or a read mark names the message's sender in a group). Kept in memory, bounded."""

from __future__ import annotations

import threading
from collections import OrderedDict

from ..backends.backend_api import MessageReceived

REMEMBERED = 4096  # messages per client (~100 bytes each)


class RecentAuthors:
    """Any thread may note and ask."""

    def __init__(self, size: int = REMEMBERED):
        self._size = size
        self._lock = threading.Lock()
        self._authors: OrderedDict[str, str] = OrderedDict()

    def note(self, message: MessageReceived) -> None:
        with self._lock:
            self._authors[message.message_id] = message.sender_jid
            self._authors.move_to_end(message.message_id)
            while len(self._authors) > self._size:
                self._authors.popitem(last=False)

    def author_of(self, message_id: str) -> str | None:
        with self._lock:
            return self._authors.get(message_id)
