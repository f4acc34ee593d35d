"""Fetching a media URL under the destination policy: a loopback server for what may be fetched
(127.0.0.1 opened for the test like WEBHOOK_ALLOW_NETWORKS does), refused destinations through the
resolver seam (no connection to them is ever made), the size cap mid-stream, the deadline, redirects."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from wamulti.destinations.policy import DestinationPolicy, allowed_networks
from wamulti.errors import DestinationNotAllowed, InvalidField, MediaFetchFailed, MediaTooLarge
from wamulti.media.blob_stores import LocalBlobs
from wamulti.media.intake import CappedSink
from wamulti.media.library import MediaLibrary
from wamulti.media.links import LinkSigner
from wamulti.media.url_fetch import UrlFetcher

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 200
NAME, INWARD = "files.example.test", "inward.example.test"  # never looked up for real


class MapResolver:
    """A getaddrinfo double answering each name from a map; records what it was asked."""

    def __init__(self, answers: dict[str, str]):
        self.answers, self.asked = answers, []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        self.asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (self.answers[host], port))]


class Files(BaseHTTPRequestHandler):
    """The loopback server's routes."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.paths.append(self.path)
        route = {"/doc.pdf": self._file, "/endless": self._endless, "/stall": self._stall,
                 "/to-file": lambda: self._redirect(f"http://{NAME}:{self.server.server_port}/doc.pdf"),
                 "/to-inward": lambda: self._redirect(f"http://{INWARD}:{self.server.server_port}/doc.pdf"),
                 "/loop": lambda: self._redirect("/loop")}.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        route()

    def _file(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")  # the sender's word: not trusted
        self.send_header("Content-Length", str(len(PDF)))
        self.end_headers()
        self.wfile.write(PDF)

    def _endless(self):  # no Content-Length: only the cap stops it
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(10_000):
                self.wfile.write(b"x" * 65536)
        except OSError:
            self.server.cut_off.set()

    def _stall(self):
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"x" * 10)
        self.wfile.flush()
        time.sleep(3)

    def _redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    httpd.daemon_threads = True
    httpd.paths, httpd.cut_off = [], threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def resolver():
    return MapResolver({NAME: "127.0.0.1", INWARD: "10.1.2.3", "metadata.example.test": "169.254.169.254"})


@pytest.fixture
def fetcher(resolver):
    return UrlFetcher(DestinationPolicy(allowed_networks("127.0.0.1/32"), resolver=resolver))


def fetch(fetcher, url, max_bytes=1 << 20, timeout=5.0) -> bytes:
    out = io.BytesIO()
    fetcher.fetch(url, CappedSink(out, max_bytes), timeout)
    return out.getvalue()


def test_a_url_is_fetched_from_the_address_its_name_resolved_to(fetcher, server, resolver, tmp_path):
    assert fetch(fetcher, f"http://{NAME}:{server.server_port}/doc.pdf") == PDF
    assert resolver.asked == [NAME]
    library = MediaLibrary(_RowsInMemory(), LocalBlobs(tmp_path), LinkSigner(b"k", "http://x", 60), fetcher)
    record = library.store_url(f"http://{NAME}:{server.server_port}/doc.pdf?x=1", file_name=None, client_id="a",
                               max_bytes=1 << 20, timeout=5)
    assert (record.sha256, record.mimetype, record.file_name) == (hashlib.sha256(PDF).hexdigest(), "application/pdf",
                                                                  "doc.pdf")


@pytest.mark.parametrize("url, rule", [
    ("http://10.0.0.5/doc.pdf", "a private address (RFC 1918)"),
    ("http://localhost:1/doc.pdf", "a loopback address"),
    ("http://metadata.example.test/latest", "a link-local address"),
    (f"http://{INWARD}/doc.pdf", "a private address (RFC 1918)"),
])
def test_a_refused_destination_is_never_connected_to(resolver, url, rule):
    strict = UrlFetcher(DestinationPolicy((), resolver=resolver))
    with pytest.raises(DestinationNotAllowed) as refused:
        fetch(strict, url)
    assert rule in refused.value.message


def test_a_redirect_is_followed_only_where_the_policy_allows(fetcher, server):
    assert fetch(fetcher, f"http://{NAME}:{server.server_port}/to-file") == PDF
    with pytest.raises(DestinationNotAllowed, match="private address"):
        fetch(fetcher, f"http://{NAME}:{server.server_port}/to-inward")
    assert server.paths == ["/to-file", "/doc.pdf", "/to-inward"]  # the inward one was never asked
    with pytest.raises(MediaFetchFailed, match="redirected too many times"):
        fetch(fetcher, f"http://{NAME}:{server.server_port}/loop")


def test_the_size_cap_stops_the_body_mid_stream(fetcher, server):
    started = time.monotonic()
    with pytest.raises(MediaTooLarge):
        fetch(fetcher, f"http://{NAME}:{server.server_port}/endless", max_bytes=300_000)
    assert time.monotonic() - started < 5
    assert server.cut_off.wait(5), "the sender was cut off, not read to its end"


def test_a_stalled_body_ends_at_the_deadline(fetcher, server):
    started = time.monotonic()
    with pytest.raises(MediaFetchFailed, match="in time"):
        fetch(fetcher, f"http://{NAME}:{server.server_port}/stall", timeout=0.5)
    assert time.monotonic() - started < 2


def test_errors_are_named_without_the_url(fetcher, server):
    with pytest.raises(MediaFetchFailed, match="HTTP 404"):
        fetch(fetcher, f"http://{NAME}:{server.server_port}/none")
    for bad in ("ftp://files.example.test/x", "/relative", "http://"):
        with pytest.raises(InvalidField):
            fetch(fetcher, bad)


class _RowsInMemory:
    """A test double of the store's media rows (the SQL stores are tested in test_media_store.py)."""

    def __init__(self):
        self.rows = {}

    def add_media(self, row):
        self.rows[row.media_id] = row

    def update_media(self, row):
        self.rows[row.media_id] = row
        return True
