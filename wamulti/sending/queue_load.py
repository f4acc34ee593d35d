"""Start-up: the send queues of every returning client loaded in one transaction.

Each queue's first load fails the rows its instance was sending when it died (outcome_unknown) and
reads its open rows: two transactions per client, a thousand clients' worth at start-up, beside
their state writes. The restore reads them for all at once and hands each queue its rows; a queue
that loaded itself already (started by a request) is left out, and if the read fails, each queue
reads its own as before, so no send is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..store.send_rows import SENDING, OutboundRow
from ..store.store_api import SessionStore, StoreError
from .dispatcher import Dispatcher
from .send_options import OUTCOME_UNKNOWN

log = logging.getLogger(__name__)


def load_queues(store: SessionStore, queues: Sequence[Dispatcher], owner: str | None) -> None:
    """Read the rows of every queue that has not loaded yet, and give each its own (or None). The rows
    `sending` that `owner` took (or nobody recorded) fail as outcome_unknown; owner None: every one
    (a takeover: they were taken under an older lease, cluster/)."""
    held = [q for q in queues if q.hold_load()]
    loaded: dict[str, tuple[list[OutboundRow], list[OutboundRow]]] | None = None
    try:
        if held:
            loaded = _read(store, [q.client_id for q in held], owner)
    except StoreError as exc:
        log.warning("queued sends not read at once (%s); each client reads its own", exc)
    finally:  # always: a held queue waits for this
        for queue in held:
            queue.give_load(loaded.get(queue.client_id) if loaded is not None else None)


def _read(store: SessionStore, client_ids: list[str], owner: str | None
          ) -> dict[str, tuple[list[OutboundRow], list[OutboundRow]]]:
    failed, open_rows = store.load_open_sends(client_ids, SENDING, OUTCOME_UNKNOWN, owner)
    loaded: dict[str, tuple[list[OutboundRow], list[OutboundRow]]] = {c: ([], []) for c in client_ids}
    for row in failed:
        loaded[row.client_id][0].append(row)
    for row in open_rows:
        loaded[row.client_id][1].append(row)
    return loaded
