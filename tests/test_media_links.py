"""Signed media links, the link secret kept in DATA_DIR, file names as kept and sent back, the spool's
leftovers."""

from __future__ import annotations

import os
import stat
import time

from wamulti.media.blob_stores import open_blob_store
from wamulti.media.file_names import content_disposition, sanitise
from wamulti.media.links import SECRET_FILE, LinkSigner, link_secret

MEDIA_ID = "mabcdefghijklmnopqrstuvwxyz"


def parts(url: str) -> tuple[str, str, str]:
    path, _, query = url.partition("?")
    fields = dict(item.split("=", 1) for item in query.split("&"))
    return path, fields["expires"], fields["sig"]


def test_a_link_is_valid_until_it_expires_and_only_for_its_id():
    signer = LinkSigner(b"secret", "https://wa.example.com/", 600)
    path, expires, sig = parts(signer.url(MEDIA_ID, now=1_000_000))
    assert path == f"https://wa.example.com/media/{MEDIA_ID}" and expires == "1000600"
    assert signer.valid(MEDIA_ID, expires, sig, now=1_000_599)
    assert not signer.valid(MEDIA_ID, expires, sig, now=1_000_601)  # expired
    assert not signer.valid("m" + "b" * 26, expires, sig, now=1_000_000)  # another id
    assert not signer.valid(MEDIA_ID, "1000601", sig, now=1_000_000)  # a longer life is not ours to give
    assert not LinkSigner(b"other", "https://x", 600).valid(MEDIA_ID, expires, sig, now=1_000_000)
    for bad in ((None, sig), (expires, None), ("-5", sig), ("1e9", sig), (expires, sig[:-1])):
        assert not signer.valid(MEDIA_ID, *bad, now=1_000_000)


def test_the_secret_is_made_once_with_mode_0600_unless_configured(tmp_path):
    first = link_secret("", tmp_path)
    assert len(first) >= 32 and link_secret("", tmp_path) == first
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600
    assert link_secret("from-env", tmp_path) == b"from-env"


def test_names_lose_paths_and_control_characters():
    assert sanitise("../../etc/passwd") == "passwd"
    assert sanitise("C:\\Users\\me\\bild.jpg") == "bild.jpg"
    assert sanitise("a\x00b\nc\u202e.pdf") == "abc.pdf"
    assert sanitise('rep"or<t>.pdf') == "report.pdf"
    assert sanitise("...") is None and sanitise("") is None and sanitise(None) is None
    assert len(sanitise("x" * 500)) == 200


def test_content_disposition_is_an_attachment_with_the_utf8_name():
    assert content_disposition("Grüße 1.pdf") == (
        "attachment; filename=\"Gr__e 1.pdf\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%201.pdf")
    assert content_disposition(None) == "attachment; filename=\"file\"; filename*=UTF-8''file"
    assert content_disposition("a/b;c.txt") == "attachment; filename=\"b;c.txt\"; filename*=UTF-8''b%3Bc.txt"


def test_spooled_files_left_by_a_stopped_process_are_cleared_at_start(tmp_path):
    spool = tmp_path / "media" / "spool"
    spool.mkdir(parents=True)
    (spool / "in-old.part").write_bytes(b"x")
    (spool / "in-new.part").write_bytes(b"y")
    os.utime(spool / "in-old.part", (time.time() - 2 * 86400,) * 2)
    open_blob_store("", tmp_path)
    assert sorted(p.name for p in spool.iterdir()) == ["in-new.part"]
