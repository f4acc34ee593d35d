"""The media library over a real store (SQLite and MariaDB) and real blob stores (a local
directory, and S3 through boto3 against moto on loopback): content addressing, the size cap,
sniffing, downloads, conversions kept once, retention."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from datetime import timedelta

import pytest

from tests.s3_server import moto_endpoint, objects, s3_env  # noqa: F401 (fixtures)
from wamulti.errors import MediaTooLarge, NotFound
from wamulti.media.blob_stores import open_blob_store
from wamulti.media.library import MediaLibrary, is_media_id
from wamulti.media.links import LinkSigner
from wamulti.store.client_rows import utcnow

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 64
PDF = b"%PDF-1.4\n" + b"x" * 5000


@pytest.fixture(params=["local", "s3"])
def blob_kind(request):
    return request.param


@pytest.fixture
def library(store, blob_kind, tmp_path, request):
    spec = f"s3://{request.getfixturevalue('s3_env')}/media" if blob_kind == "s3" else ""
    blobs = open_blob_store(spec, tmp_path / "data")
    lib = MediaLibrary(store, blobs, LinkSigner(b"k" * 32, "http://127.0.0.1:3000", 3600), retention_hours=1)
    lib.spec = spec
    return lib


def blob_count(library, tmp_path) -> int:
    if library.spec:
        return len(objects(library.spec[len("s3://"):].split("/")[0]))
    return sum(len(files) for _, _, files in os.walk(tmp_path / "data" / "media" / "blobs"))


def content(library, record) -> bytes:
    return b"".join(library.chunks(record))


def test_the_same_bytes_twice_are_two_records_and_one_blob(library, tmp_path):
    first = library.store_stream(io.BytesIO(PDF), file_name="a.pdf", client_id="alice", max_bytes=1 << 20)
    second = library.store_stream(io.BytesIO(PDF), file_name="b.pdf", client_id=None, max_bytes=1 << 20)
    assert first.media_id != second.media_id and is_media_id(first.media_id)
    assert first.sha256 == second.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (first.status, first.size, first.mimetype, first.file_name) == ("stored", len(PDF), "application/pdf",
                                                                             "a.pdf")
    assert blob_count(library, tmp_path) == 1
    assert content(library, second) == PDF
    assert library.get(first.media_id) == first


def test_the_type_comes_from_the_bytes_not_the_name(library):
    record = library.store_stream(io.BytesIO(PNG), file_name="../../etc/report.pdf", client_id=None,
                                  max_bytes=1 << 20)
    assert record.mimetype == "image/png"
    assert record.file_name == "report.pdf"


def test_a_file_over_the_cap_is_refused_and_nothing_is_kept(library, tmp_path):
    with pytest.raises(MediaTooLarge):
        library.store_stream(io.BytesIO(b"z" * 5001), file_name=None, client_id=None, max_bytes=5000)
    assert library.store_stream(io.BytesIO(b"z" * 5000), file_name=None, client_id=None, max_bytes=5000).size == 5000
    assert blob_count(library, tmp_path) == 1  # only the one at the cap
    assert list(library._blobs.spool_dir.iterdir()) == []  # no spooled leftovers


def test_a_download_is_pending_then_stored(library):
    record = library.begin_download("alice", mimetype="application/pdf", size=len(PDF), file_name="in.pdf")
    assert library.get(record.media_id).status == "pending"
    stored = library.finish_download(record.media_id, lambda sink: sink.write(PDF), max_bytes=1 << 20)
    assert (stored.status, stored.sha256, stored.client_id) == ("stored", hashlib.sha256(PDF).hexdigest(), "alice")
    assert library.get(record.media_id) == stored
    with library.local_path(record.media_id) as path:
        assert path.read_bytes() == PDF


def test_a_download_over_the_cap_is_too_large_and_a_broken_one_failed(library):
    big = library.begin_download("alice", mimetype=None, size=None, file_name=None)
    with pytest.raises(MediaTooLarge):
        library.finish_download(big.media_id, lambda sink: sink.write(b"x" * 101), max_bytes=100)
    assert library.get(big.media_id).status == "too_large"

    def broken(sink):
        sink.write(b"half")
        raise ConnectionResetError("gone")
    bad = library.begin_download("alice", mimetype=None, size=None, file_name=None)
    with pytest.raises(ConnectionResetError):
        library.finish_download(bad.media_id, broken, max_bytes=100)
    assert (library.get(bad.media_id).status, library.get(bad.media_id).reason) == (
        "failed", "download failed (ConnectionResetError)")
    assert library.mark(bad.media_id, "pending", None).status == "pending"  # a retry starts again
    with pytest.raises(NotFound):
        library.chunks(library.get(bad.media_id))


def test_a_conversion_is_made_once_and_its_facts_kept(library, tmp_path):
    source = library.store_stream(io.BytesIO(PDF), file_name="a.pdf", client_id="alice", max_bytes=1 << 20)
    calls = []

    def make(src, dest):
        calls.append(src.read_bytes() == PDF)
        dest.write_bytes(PNG)
        return {"width": 1, "waveform": [0, 50, 100]}
    made, facts = library.derived(source.media_id, "thumb", make)
    again, facts_again = library.derived(source.media_id, "thumb", make)
    assert calls == [True]
    assert made == again and facts == facts_again == {"width": 1, "waveform": [0, 50, 100]}
    assert (made.mimetype, made.client_id, made.sha256) == ("image/png", "alice", hashlib.sha256(PNG).hexdigest())
    assert content(library, made) == PNG


def test_prune_keeps_what_is_referenced_and_blobs_others_still_name(library, tmp_path):
    old = [library.store_stream(io.BytesIO(data), file_name=None, client_id=None, max_bytes=1 << 20)
           for data in (PDF, PNG, b"kept bytes")]
    keep, gone_shared, gone = old[2], old[0], old[1]
    library.derived(keep.media_id, "v", lambda src, dest: dest.write_bytes(b"derived of kept") and {})
    fresh = library.store_stream(io.BytesIO(PDF), file_name=None, client_id=None, max_bytes=1 << 20)  # same bytes
    asked = []

    def is_referenced(ids):
        asked.append(sorted(ids))
        return {keep.media_id}
    later = utcnow() + timedelta(hours=1, minutes=1)  # the first four are past the hour; so is fresh...
    pruned = library.prune(later, is_referenced)
    assert pruned == 3  # gone_shared, gone and fresh (also over an hour old by `later`)
    assert library.get(keep.media_id) is not None and library.get(gone.media_id) is None
    assert library._store.derived_media(keep.media_id, "v") is not None  # stays with its source
    assert len(asked) == 1 and keep.media_id in asked[0] and fresh.media_id in asked[0]
    assert blob_count(library, tmp_path) == 2  # kept bytes and its conversion
    assert library.prune(later, is_referenced) == 0


def test_records_still_referred_to_do_not_hold_back_the_others(library):
    kept = [library.store_stream(io.BytesIO(b"kept %d" % n), file_name=None, client_id=None, max_bytes=99)
            for n in range(5)]
    others = [library.store_stream(io.BytesIO(b"other %d" % n), file_name=None, client_id=None, max_bytes=99)
              for n in range(2)]
    later = utcnow() + timedelta(hours=2)
    assert library.prune(later, lambda ids: {r.media_id for r in kept}, batch=2) == 2  # past two full pages
    assert [library.get(r.media_id) for r in others] == [None, None]
    assert all(library.get(r.media_id) for r in kept)


def test_prune_leaves_a_blob_a_younger_record_names(library, tmp_path):
    old = library.store_stream(io.BytesIO(PDF), file_name=None, client_id=None, max_bytes=1 << 20)
    cutoff_now = old.created_at + timedelta(hours=1, microseconds=1)
    young = library.store_stream(io.BytesIO(PDF), file_name=None, client_id=None, max_bytes=1 << 20)
    if young.created_at <= old.created_at:
        pytest.skip("clock did not move")
    assert library.prune(cutoff_now, lambda ids: set()) == 1
    assert library.get(old.media_id) is None
    assert content(library, young) == PDF  # its blob stayed


def test_a_large_file_goes_to_s3_in_parts_and_streams_back(store, s3_env, tmp_path):
    library = MediaLibrary(store, open_blob_store(f"s3://{s3_env}", tmp_path / "d"), LinkSigner(b"k", "http://x", 60))
    data = os.urandom(1 << 20) * 12  # 12 MiB: past boto3's 8 MiB multipart threshold
    record = library.store_stream(io.BytesIO(data), file_name="big.bin", client_id=None, max_bytes=16 << 20)
    digest, size = hashlib.sha256(), 0
    for chunk in library.chunks(record):
        assert len(chunk) <= 64 * 1024  # streamed, never whole
        digest.update(chunk)
        size += len(chunk)
    assert (digest.hexdigest(), size) == (record.sha256, len(data))
    assert objects(s3_env) == [f"{record.sha256[:2]}/{record.sha256[2:4]}/{record.sha256}"]


def test_two_threads_asking_for_one_conversion_make_it_once(library):
    source = library.store_stream(io.BytesIO(PDF), file_name="a.pdf", client_id=None, max_bytes=1 << 20)
    calls, answers = [], []

    def slow_make(src, dest):
        calls.append(1)
        time.sleep(0.3)  # the other thread asks meanwhile
        dest.write_bytes(PNG)
        return {"n": 1}

    threads = [threading.Thread(target=lambda: answers.append(library.derived(source.media_id, "v", slow_make)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1 and len(answers) == 2 and answers[0] == answers[1]
    assert answers[0][0].status == "stored" and answers[0][1] == {"n": 1}


def test_a_failed_conversion_leaves_no_claim_and_the_next_call_tries_again(library):
    source = library.store_stream(io.BytesIO(PDF), file_name="a.pdf", client_id=None, max_bytes=1 << 20)

    def broken(src, dest):
        raise ValueError("cannot convert")
    with pytest.raises(ValueError):
        library.derived(source.media_id, "v", broken)
    record, facts = library.derived(source.media_id, "v", lambda src, dest: dest.write_bytes(PNG) and {"ok": True})
    assert (record.mimetype, facts) == ("image/png", {"ok": True})
