"""The simulator's connection reports (SIM_REGISTRY=127.0.0.1:<port>): each simulated account's
connects and disconnects, and each message it sends, told over one loopback TCP connection per process to a census that
several instances share (bench/connection_census.py). Each process has its own simulated network,
so only a shared listener can see one account connected from two instances at once; a process that
dies closes its connection, which the census counts as all its accounts disconnected, as WhatsApp
sees a dead socket.

An attach is told before the session counts as connected and a detach after it stopped, so an
overlap is never hidden (at worst a few microseconds are counted too many).
"""

from __future__ import annotations

import logging
import socket
import threading

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_address(raw: str) -> tuple[str, int]:
    """host:port of a loopback listener; ValueError otherwise."""
    host, _, port = raw.strip().rpartition(":")
    host = host.strip("[]")
    if host not in LOOPBACK or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"SIM_REGISTRY must be a loopback host:port like 127.0.0.1:7070, got {raw!r}")
    return host, int(port)


class ConnectionReports:
    """One process's reports to the census; a census that cannot be reached is retried at the next report."""

    def __init__(self, address: tuple[str, int]):
        self._address = address
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._warned = False

    def attached(self, number: str) -> None:
        self._tell(f"attach {number}\n")

    def detached(self, number: str) -> None:
        self._tell(f"detach {number}\n")

    def sent(self, message_id: str) -> None:
        self._tell(f"sent {message_id}\n")

    def _tell(self, line: str) -> None:
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.create_connection(self._address, timeout=2)
                self._socket.sendall(line.encode("ascii"))
            except OSError as exc:
                if not self._warned:
                    log.warning("simulator census at %s:%d not reachable: %s", *self._address, exc)
                    self._warned = True
                self._close()

    def _close(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            except OSError:
                pass
            self._socket = None

    def close(self) -> None:
        with self._lock:
            self._close()
