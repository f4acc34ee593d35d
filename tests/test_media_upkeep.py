"""MediaReferences gathers the referrers' checks; MediaUpkeep prunes on its thread with them."""

from __future__ import annotations

import io
import threading
import time

from wamulti.media.blob_stores import LocalBlobs
from wamulti.media.library import MediaLibrary
from wamulti.media.links import LinkSigner
from wamulti.media.media_upkeep import MediaUpkeep
from wamulti.media.references import MediaReferences


def test_references_are_the_union_of_every_check_limited_to_the_ids_asked():
    refs = MediaReferences(lambda ids: {"a", "zzz"})
    assert refs(["a", "b", "c"]) == {"a"}
    refs.add(lambda ids: {i for i in ids if i == "c"})
    assert refs(["a", "b", "c"]) == {"a", "c"}


def test_the_upkeep_thread_prunes_what_no_check_refers_to(sqlite_store, tmp_path):
    library = MediaLibrary(sqlite_store, LocalBlobs(tmp_path / "media"), LinkSigner(b"k", "http://x", 60),
                           retention_hours=0)  # everything is old at once
    kept = library.store_stream(io.BytesIO(b"kept"), file_name=None, client_id=None, max_bytes=99)
    gone = library.store_stream(io.BytesIO(b"gone"), file_name=None, client_id=None, max_bytes=99)
    asked = []
    refs = MediaReferences(lambda ids: asked.append(sorted(ids)) or {kept.media_id})
    upkeep = MediaUpkeep(library, refs, every=0.05)
    upkeep.start()
    try:
        deadline = time.monotonic() + 5
        while library.get(gone.media_id) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        upkeep.stop()
    assert library.get(gone.media_id) is None and library.get(kept.media_id) is not None
    assert sorted([kept.media_id, gone.media_id]) in asked
    assert "media-upkeep" not in {t.name for t in threading.enumerate()}
