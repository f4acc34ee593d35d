"""The registry's entries (a client's worker, its stage, its lock) and their order, for pages of the list.

`GET /api/clients?limit=` pages through the clients by id: a page starts after the last id of the
one before (keyset paging), so a client that exists during the whole walk is listed exactly once
whatever is created or deleted meanwhile, and a page reads only its own clients' status, not
every client's (5,000 clients: a page of 100 reads 100).
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort
from enum import Enum
from typing import Callable

from .states import ClientStatus
from .worker import ClientWorker


class Stage(Enum):
    """Where a client's entry is in its life; requests see only LIVE ones."""

    RESERVED = "reserved"  # create holds the id: its row is being written and its worker started
    LIVE = "live"
    DELETING = "deleting"  # delete runs: gone for requests, still holding the id (create conflicts)


class Entry:
    """A client in the registry: its worker, its stage, and the lock its changes take turns on."""

    def __init__(self, worker: ClientWorker, stage: Stage):
        self.worker = worker
        self.stage = stage  # written under the registry's lock
        self.changing = threading.Lock()  # pair, delete, webhook changes: one at a time, across their I/O


class ClientOrder:
    """The ids of the registry's entries, sorted; changed and read under the registry's lock."""

    def __init__(self) -> None:
        self._ids: list[str] = []

    def add(self, client_id: str) -> None:
        at = bisect_left(self._ids, client_id)
        if at == len(self._ids) or self._ids[at] != client_id:
            self._ids.insert(at, client_id)

    def remove(self, client_id: str) -> None:
        at = bisect_left(self._ids, client_id)
        if at < len(self._ids) and self._ids[at] == client_id:
            del self._ids[at]

    def after(self, client_id: str | None) -> list[str]:
        """The ids sorted after client_id (all with None): a copy, read outside the lock."""
        return self._ids[bisect_right(self._ids, client_id):] if client_id is not None else list(self._ids)


def page_of(ids: list[str], entries: dict[str, Entry], limit: int, state: str | None,
            visible: Callable[[str], bool] | None) -> tuple[list[ClientStatus], str | None]:
    """Up to `limit` LIVE clients among `ids` (in order), of `state` if given, that `visible` lets
    through; and the id the next page starts after, None when no client follows. `entries` is read
    without the registry's lock (one dict lookup per id): a client created or deleted meanwhile is
    listed or not, as if the page was read a moment earlier or later."""
    found: list[ClientStatus] = []
    for client_id in ids:
        entry = entries.get(client_id)
        if entry is None or entry.stage is not Stage.LIVE or (visible is not None and not visible(client_id)):
            continue
        if state is not None and entry.worker.state != state:
            continue
        if len(found) == limit:
            return found, found[-1].client_id
        status = entry.worker.status()
        if state is None or status.state == state:  # it may have moved on since the look above
            found.append(status)
    return found, None
