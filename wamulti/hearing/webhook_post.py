"""One signed webhook POST (Standard Webhooks, through the `standardwebhooks` package).

No redirects are followed and no proxy is used; the whole exchange has one deadline. The host is
resolved and every address checked by the destination policy, then one of those addresses is
dialled (the global webhook is trusted: its addresses are not checked). Nothing an attempt raises
escapes `post`: errors are described in a few words without the URL (it may carry credentials) or
the resolved address, and without the response body.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

from standardwebhooks import Webhook

from .. import __version__
from ..destinations.connections import PinnedHTTPConnection, PinnedHTTPSConnection
from ..destinations.hosts import UnusableHost, ascii_host
from ..destinations.policy import DestinationPolicy
from ..errors import DestinationNotAllowed
from .retry import Outcome, parse_retry_after
from .watchdog import Cut, Watchdog

TIMEOUT = 10.0
RESPONSE_READ_LIMIT = 64 * 1024  # the body is not used; read a little so the receiver is not cut off mid-write
USER_AGENT = f"wamulti/{__version__}"


def signed_headers(secret: str, event_id: str, body: str, now: datetime | None = None) -> dict[str, str]:
    """Content-Type and the three Standard Webhooks headers for one attempt."""
    moment = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, moment, body),
    }


def describe(exc: BaseException) -> str:
    """A few words for a failed exchange."""
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host not found"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or type(exc).__name__})"
    if isinstance(exc, (ConnectionError, http.client.HTTPException)):
        return f"connection failed ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"network error ({type(exc).__name__})"
    if isinstance(exc, DestinationNotAllowed):
        return exc.message
    if isinstance(exc, UnusableHost):
        return f"The webhook's host cannot be looked up: {exc}."
    return f"The request could not be made ({type(exc).__name__})."


class WebhookSender:
    """Posts event bodies; thread-safe (each post has its own connection)."""

    def __init__(self, timeout: float = TIMEOUT, watchdog: Watchdog | None = None,
                 ssl_context: ssl.SSLContext | None = None, destinations: DestinationPolicy | None = None):
        self.timeout = timeout
        self._watchdog = watchdog
        self._ssl = ssl_context or ssl.create_default_context()
        self._destinations = destinations or DestinationPolicy()

    @staticmethod
    def _credentials(url: str) -> dict[str, str]:
        """Basic auth from a URL's user:password@ part (sent as a header; http.client ignores it)."""
        parts = urlsplit(url)
        if parts.username is None:
            return {}
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode("utf-8")
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    def _connection(self, url: str, trusted: bool) -> tuple[http.client.HTTPConnection, str]:
        """A connection to the URL's host, pinned to addresses the policy passed (resolves now)."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        https = parts.scheme.lower() == "https"
        host, port = ascii_host(parts.hostname or ""), parts.port or (443 if https else 80)
        addresses = self._destinations.addresses(host, port, "The webhook's host", check=not trusted)
        if https:
            return PinnedHTTPSConnection(host, port, addresses, self.timeout, self._ssl), target
        return PinnedHTTPConnection(host, port, addresses, self.timeout), target

    def post(self, url: str, secret: str, event_id: str, body: str, trusted: bool = False) -> Outcome:
        """POST `body` (the event JSON) to `url`, signed with `secret`; never raises.

        `trusted` (the operator's global webhook) skips the policy's address checks."""
        deadline = time.monotonic() + self.timeout
        conn, cut = None, Cut()
        try:
            headers = {**signed_headers(secret, event_id, body), **self._credentials(url)}
            conn, target = self._connection(url, trusted)
            conn.connect()
            guard = self._watchdog.guard(conn.sock, deadline) if self._watchdog else nullcontext(cut)
            with guard as cut:
                conn.request("POST", target, body=body.encode("utf-8"), headers=headers)
                response = conn.getresponse()
                response.read(RESPONSE_READ_LIMIT)
                return Outcome(status=response.status, retry_after=parse_retry_after(response.getheader("Retry-After")))
        except Exception as exc:  # every attempt must end as a recorded outcome, whatever went wrong
            return Outcome(error="timeout" if cut.fired else describe(exc))
        finally:
            if conn is not None:
                conn.close()
