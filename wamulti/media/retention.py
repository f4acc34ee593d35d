"""Retention: records past MEDIA_RETENTION_HOURS go, unless something still refers to them; a blob
goes when no record names its sha256 any more.

`is_referenced(ids) -> the ids still needed` is how the send queue and the event outbox keep their
files (a queued send's media, an undelivered event's): wamulti/media/references.py gathers them. A
conversion and its source are one group: when either is referred to, both stay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from ..store.media_rows import MediaRow

log = logging.getLogger(__name__)


def _kept(rows: list[MediaRow], referenced: set[str]) -> set[str]:
    """The ids among `rows` that stay: referred to, or of a group (source + conversions) one is referred to in."""
    groups_needed = {row.source_id or row.media_id for row in rows if row.media_id in referenced}
    return {row.media_id for row in rows
            if row.media_id in referenced or (row.source_id or row.media_id) in groups_needed}


def prune_records(store, blobs, before: datetime, is_referenced: Callable[[list[str]], set[str]],
                  batch: int) -> int:
    """One bounded pass: up to `batch` records created before `before`; how many were deleted."""
    rows = store.old_media(before, batch)
    if not rows:
        return 0
    kept = _kept(rows, set(is_referenced([row.media_id for row in rows])))
    gone = [row for row in rows if row.media_id not in kept]
    deleted = store.delete_media([row.media_id for row in gone])
    hashes = sorted({row.sha256 for row in gone if row.sha256})
    for sha256 in set(hashes) - store.sha256_in_use(hashes):
        try:
            blobs.delete(sha256)
        except Exception as exc:  # the record is gone; a blob left behind costs space, not correctness
            log.warning("media blob %s… not deleted: %s", sha256[:12], type(exc).__name__)
    return deleted
