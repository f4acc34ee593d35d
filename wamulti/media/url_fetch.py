"""Fetching a media URL under the destination policy (wamulti/destinations), streamed into a sink.

Every hop (the URL and each redirect) is resolved once, every address checked by the policy, and a
checked address dialled (the connections the webhooks use); a redirect to a refused address is
refused like the URL itself. The whole fetch has one deadline; the body goes to `sink` a chunk at a
time (intake's CappedSink stops it at the size cap).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

from .. import __version__
from ..destinations.connections import PinnedHTTPConnection, PinnedHTTPSConnection
from ..destinations.hosts import UnusableHost, ascii_host
from ..destinations.policy import DestinationPolicy
from ..destinations.urls import UnsendableUrl, sendable_url
from ..errors import DestinationNotAllowed, InvalidField, MediaFetchFailed
from .intake import CHUNK

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
USER_AGENT = f"wamulti/{__version__}"


def checked_url(url: str) -> str:
    """The URL in its sendable form; InvalidField unless it is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidField("url", "Field 'url' must be an absolute http:// or https:// URL.")
    try:
        return sendable_url(url)
    except UnsendableUrl as exc:
        raise InvalidField("url", f"Field 'url' cannot be fetched: {exc}.") from None


class UrlFetcher:
    """Fetches URLs; thread-safe (each fetch has its own connections)."""

    def __init__(self, policy: DestinationPolicy | None = None, ssl_context: ssl.SSLContext | None = None):
        self._policy = policy or DestinationPolicy()
        self._ssl = ssl_context or ssl.create_default_context()

    def _connect(self, url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(url)
        https = parts.scheme == "https"
        try:
            host = ascii_host(parts.hostname or "")
        except UnusableHost as exc:
            raise InvalidField("url", f"Field 'url' cannot be fetched: {exc}.") from None
        port = parts.port or (443 if https else 80)
        self._policy.check_host(host, "The media URL")  # 'localhost' and other spellings, before any lookup
        addresses = self._policy.addresses(host, port, "The media URL's host")
        conn = (PinnedHTTPSConnection(host, port, addresses, timeout, self._ssl) if https
                else PinnedHTTPConnection(host, port, addresses, timeout))
        return conn, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def fetch(self, url: str, sink, timeout: float) -> str | None:
        """Stream the body at `url` (following up to MAX_REDIRECTS redirects) into `sink`; return the
        answer's Content-Type. DestinationNotAllowed, InvalidField, MediaFetchFailed, or what sink raises."""
        deadline = time.monotonic() + timeout
        url = checked_url(url)
        for _ in range(MAX_REDIRECTS + 1):
            location = self._one_hop(url, sink, deadline)
            if location[0] == "done":
                return location[1]
            url = checked_url(urljoin(url, location[1]))
        raise MediaFetchFailed("The media URL redirected too many times.")

    def _one_hop(self, url: str, sink, deadline: float) -> tuple[str, str | None]:
        """("done", content type) after streaming the body, or ("redirect", location)."""
        conn = None
        try:
            conn, target = self._connect(url, _left(deadline))
            conn.request("GET", target, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
            response = conn.getresponse()
            if response.status in REDIRECTS and response.getheader("Location"):
                return "redirect", response.getheader("Location")
            if response.status != 200:
                raise MediaFetchFailed(f"The media URL answered HTTP {response.status}.")
            _stream(response, sink, deadline, conn)
            return "done", response.getheader("Content-Type")
        except (DestinationNotAllowed, InvalidField, MediaFetchFailed):
            raise
        except (socket.timeout, TimeoutError):
            raise MediaFetchFailed("The media URL did not answer in time.") from None
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise MediaFetchFailed(f"The media URL could not be fetched ({type(exc).__name__}).") from None
        finally:
            if conn is not None:
                conn.close()


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise MediaFetchFailed("The media URL did not answer in time.")
    return left


def _stream(response: http.client.HTTPResponse, sink, deadline: float, conn) -> None:
    while True:
        if conn.sock is not None:
            conn.sock.settimeout(_left(deadline))  # each read waits no longer than the whole fetch may
        chunk = response.read1(CHUNK)
        if not chunk:
            return
        sink.write(chunk)
