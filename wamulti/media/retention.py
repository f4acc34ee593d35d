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
PAGES = 20  # pages of old records one pass looks at


def _kept(rows: list[MediaRow], referenced: set[str]) -> set[str]:
    """The ids among `rows` that stay: referred to, or of a group (source + conversions) one is referred to in."""
    groups_needed = {row.source_id or row.media_id for row in rows if row.media_id in referenced}
    return {row.media_id for row in rows
            if row.media_id in referenced or (row.source_id or row.media_id) in groups_needed}


def prune_records(store, blobs, before: datetime, is_referenced: Callable[[list[str]], set[str]],
                  batch: int, pages: int = PAGES) -> int:
    """One bounded pass over up to `pages` pages of `batch` records created before `before` (past the
    ones still referred to, which would otherwise fill every page); how many were deleted."""
    deleted, after = 0, None
    for _ in range(pages):
        rows = store.old_media(before, batch, after)
        if not rows:
            break
        deleted += _prune_page(store, blobs, rows, is_referenced)
        if deleted >= batch or len(rows) < batch:
            break
        after = (rows[-1].created_at, rows[-1].media_id)
    return deleted


def _prune_page(store, blobs, rows: list[MediaRow], is_referenced: Callable[[list[str]], set[str]]) -> int:
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
