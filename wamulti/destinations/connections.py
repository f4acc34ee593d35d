"""HTTP(S) connections to a host by name, dialled at an address the policy already checked.

The Host header, TLS SNI and certificate check all use the name; only the TCP connect goes to the
vetted address, so no second lookup (which could answer differently) is ever made.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Sequence


def dial(addresses: Sequence[str], port: int, timeout: float) -> socket.socket:
    """A TCP connection to the first of `addresses` that answers (each already checked)."""
    last: OSError | None = None
    for address in addresses:
        try:
            sock = socket.create_connection((address, port), timeout)
        except OSError as exc:
            last = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last or OSError("no address to connect to")


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP to `host` (the Host header), connected to one of `addresses`."""

    def __init__(self, host: str, port: int, addresses: Sequence[str], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.addresses = tuple(addresses)

    def connect(self) -> None:
        self.sock = dial(self.addresses, self.port, self.timeout)


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """HTTPS to `host`: SNI and certificate verification on the name, TCP to one of `addresses`."""

    default_port = http.client.HTTPS_PORT

    def __init__(self, host: str, port: int, addresses: Sequence[str], timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, addresses, timeout)
        self.context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)
