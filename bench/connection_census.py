"""ConnectionCensus: the listener SIM_REGISTRY points the simulator instances at (wamulti/backends/
simulator/sim_reports.py). It counts every moment one account is connected from two processes at
once, the cluster drill's key figure (target 0), and how often each message went out (target: once). A process's TCP connection closing (a SIGKILL
included) disconnects all of its accounts, as WhatsApp sees a dead socket."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter


class ConnectionCensus:
    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Condition()  # guards the counts; notified at every change of them
        self._online: dict[str, set[int]] = {}  # account -> the reporting connections it is connected on
        self.doubles: list[tuple[float, str]] = []  # (monotonic time, account) of each double connection
        self.attaches = 0
        self.sent: Counter = Counter()  # message id -> times it went out (more than once: sent twice)
        self._closed = False
        threading.Thread(target=self._accept, name="census-accept", daemon=True).start()

    def _accept(self) -> None:
        peer = 0
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            peer += 1
            threading.Thread(target=self._read, args=(conn, peer), name=f"census-{peer}", daemon=True).start()

    def _read(self, conn: socket.socket, peer: int) -> None:
        with conn, conn.makefile("r", encoding="ascii") as lines:
            try:
                for line in lines:
                    kind, _, account = line.strip().partition(" ")
                    self._record(kind, account, peer)
            except OSError:
                pass
        with self._lock:  # the process ended (or lost its connection): none of its accounts is connected
            for peers in self._online.values():
                peers.discard(peer)
            self._lock.notify_all()

    def _record(self, kind: str, account: str, peer: int) -> None:
        with self._lock:
            if kind == "sent":
                self.sent[account] += 1  # `account` is the message id here
                return
            peers = self._online.setdefault(account, set())
            if kind == "attach":
                self.attaches += 1
                if peers - {peer}:
                    self.doubles.append((time.monotonic(), account))
                peers.add(peer)
            elif kind == "detach":
                peers.discard(peer)
            self._lock.notify_all()

    def connected(self) -> int:
        """Accounts connected now."""
        with self._lock:
            return self._count_connected()

    def _count_connected(self) -> int:  # with the lock held
        return sum(1 for peers in self._online.values() if peers)

    def wait_connected(self, count: int, timeout: float) -> int:
        """Accounts connected once `count` are, or when `timeout` ran out. The reports come over TCP
        and are read on threads of this process: on a busy machine an instance's first report (a new
        connection, a new reader thread) can land after the store already shows its clients READY."""
        with self._lock:
            self._lock.wait_for(lambda: self._count_connected() == count, timeout)
            return self._count_connected()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
