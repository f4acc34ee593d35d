"""Slow clients: many connections that each send a request header one byte at a time and never finish it.

Used by tests/test_slow_clients.py and bench/trickle.py. Loopback only; one thread drives every
socket, and it stops at close() or after `seconds`, whichever comes first.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import threading
import time

# The request line and a header that never ends: the server can never start to answer it.
HEADER = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: " + b"a" * 100_000


class Tricklers:
    """`count` connections to 127.0.0.1:port, each sending one header byte every `interval` seconds."""

    def __init__(self, port: int, count: int, *, interval: float = 1.0, seconds: float = 60.0):
        self.port, self.count, self.interval, self.seconds = port, count, interval, seconds
        self._socks: list[socket.socket] = []
        self._sent: dict[int, int] = {}  # fd -> header bytes sent
        self._ports: set[int] = set()  # the local ports of our connections
        self.cut = 0  # connections the server closed (or answered) while they trickled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tricklers", daemon=True)

    def __enter__(self) -> "Tricklers":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> "Tricklers":
        """Connect them all and send each its first byte; then trickle on a thread until close()."""
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.setblocking(False)
            self._socks.append(sock)
            self._ports.add(sock.getsockname()[1])
            self._send_next(sock)
        self._thread.start()
        return self

    @property
    def trickling(self) -> int:
        """Connections still open and trickling."""
        return len(self._sent)

    def accepted_by(self, pid: int) -> int:
        """How many of these connections process `pid` has accepted: its descriptors joined with the
        kernel's TCP table (a connection still waiting in the listen backlog has no descriptor)."""
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if link.startswith("socket:["):
                inodes.add(link[len("socket:["):-1])
        with open("/proc/net/tcp") as table:
            rows = [line.split() for line in table.readlines()[1:]]
        # a set: the kernel writes the table a page at a time, so a row can show twice while it changes
        return len({row[9] for row in rows if int(row[2].split(":")[1], 16) in self._ports and row[9] in inodes})

    def _send_next(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        sent = self._sent.get(fd, 0)
        try:
            sock.send(HEADER[sent:sent + 1])
            self._sent[fd] = sent + 1
        except OSError:  # reset by the server, or the send buffer is full: this one is over
            self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        if self._sent.pop(sock.fileno(), None) is not None:
            self.cut += 1

    def _run(self) -> None:
        deadline = time.monotonic() + self.seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            live = [s for s in self._socks if s.fileno() in self._sent]
            self._drop_answered(live)
            self._one_round([s for s in live if s.fileno() in self._sent])

    def _one_round(self, live: list[socket.socket]) -> None:
        """A byte to each, spread evenly over one interval: independent clients do not send in step."""
        start = time.monotonic()
        for i, sock in enumerate(live):
            if self._stop.wait(max(0.0, start + i * self.interval / len(live) - time.monotonic())):
                return
            self._send_next(sock)
        self._stop.wait(max(0.0, start + self.interval - time.monotonic()))

    def _drop_answered(self, live: list[socket.socket]) -> None:
        """A socket the server wrote to (a 408) or closed (EOF) is readable: it no longer trickles."""
        poller = select.poll()
        by_fd = {s.fileno(): s for s in live}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(0):
            self._drop(by_fd[fd])

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        for sock in self._socks:
            sock.close()
        self._socks.clear()


def timed_get(port: int, path: str = "/healthz", timeout: float = 5.0) -> tuple[int, float]:
    """One GET on a new connection: (status, seconds from connect to the whole answer read)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.perf_counter() - started
    finally:
        conn.close()


def latencies(port: int, rounds: int, *, pause: float = 0.1, timeout: float = 5.0) -> list[float]:
    """`rounds` sequential GETs of /healthz, each on a new connection; seconds each (all must be 200)."""
    taken = []
    for _ in range(rounds):
        status, seconds = timed_get(port, timeout=timeout)
        assert status == 200, f"/healthz answered {status}"
        taken.append(seconds)
        time.sleep(pause)
    return taken
