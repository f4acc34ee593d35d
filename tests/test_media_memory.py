"""Memory stays bounded whatever size a file has: a 100 MB upload (raw, then as multipart/form-data) and its
download through a real server process (waitress, the app, the library, the local blob store) grow the process's peak RSS far less
than the file's size. The bytes are streamed from and to disk on both sides."""

from __future__ import annotations

import hashlib
import http.client
import json
import os

from tests.server_process import API_KEY, ServerProcess

FILE_MB = 100
BLOCK = 1 << 20
GROWTH_LIMIT_MB = 30  # under a third of the file (measured: 13-21, by load; a buffered file adds all of it)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM) in MiB."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def upload_file(port: int, path, size: int, multipart: bool = False) -> dict:
    """POST the file, read and sent a block at a time: as the raw body, or as one multipart file part."""
    boundary = "wamulti-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() if multipart else b""
    tail = f"\r\n--{boundary}--\r\n".encode() if multipart else b""
    kind = f"multipart/form-data; boundary={boundary}" if multipart else "application/octet-stream"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.putrequest("POST", "/api/media?fileName=big.bin")
    for name, value in (("x-api-key", API_KEY), ("Content-Type", kind),
                        ("Content-Length", str(len(head) + size + len(tail)))):
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(head)
    with open(path, "rb") as file:
        while block := file.read(BLOCK):
            conn.send(block)
    conn.send(tail)
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 201, body
    return body


def download_digest(port: int, media_id: str) -> tuple[str, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"/api/media/{media_id}", headers={"x-api-key": API_KEY})
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Length")
    digest, size = hashlib.sha256(), 0
    while block := response.read(BLOCK):
        digest.update(block)
        size += len(block)
    conn.close()
    return digest.hexdigest(), size


def test_100_mb_uploads_and_a_download_do_not_grow_the_server_by_the_file(tmp_path):
    path, size = tmp_path / "big.bin", FILE_MB << 20
    digest = hashlib.sha256()
    with open(path, "wb") as file:
        for _ in range(FILE_MB):
            block = os.urandom(BLOCK)
            digest.update(block)
            file.write(block)
    server = ServerProcess(tmp_path / "data", {"MEDIA_MAX_MB": "128"}).start()
    try:
        server.request("GET", "/healthz")  # the first request's one-off costs (imports, schemas) before the baseline
        warm = tmp_path / "warm.bin"
        warm.write_bytes(b"%PDF-1.4\n" + b"w" * 4087)
        upload_file(server.port, warm, 4096)  # and the first upload's (libmagic's database, the spool)
        idle = peak_rss_mb(server.proc.pid)
        stored = upload_file(server.port, path, size)
        assert (stored["sha256"], stored["size"]) == (digest.hexdigest(), size)
        assert download_digest(server.port, stored["mediaId"]) == (digest.hexdigest(), size)
        as_form = upload_file(server.port, path, size, multipart=True)
        assert (as_form["sha256"], as_form["size"]) == (digest.hexdigest(), size)
        growth = peak_rss_mb(server.proc.pid) - idle
        print(f"peak RSS growth for {FILE_MB} MB up (raw and multipart) and down: {growth:.1f} MB "
              f"(idle peak {idle:.1f} MB)")
        assert growth < GROWTH_LIMIT_MB, f"peak RSS grew {growth:.1f} MB for a {FILE_MB} MB file"
    finally:
        server.close()
