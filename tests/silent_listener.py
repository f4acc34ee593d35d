"""A loopback TCP endpoint that accepts connections and never answers (a dial that hangs).

Used as HTTPS_PROXY for processes that dial WhatsApp: their dial is accepted on 127.0.0.1 and then
waits, so nothing leaves the machine and the pairing phase stays open as long as the test wants.
"""

from __future__ import annotations

import socket
import threading


class SilentListener:
    def __init__(self):
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(256)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._held: list[socket.socket] = []
        self._accepted = threading.Condition()
        self.accepted = 0
        self._closed = False
        threading.Thread(target=self._run, name="silent-listener", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._accepted:
                if self._closed:
                    conn.close()
                    return
                self._held.append(conn)
                self.accepted += 1
                self._accepted.notify_all()

    def wait_accepted(self, count: int, timeout: float = 20.0) -> bool:
        with self._accepted:
            return self._accepted.wait_for(lambda: self.accepted >= count, timeout)

    def drop_closed(self) -> None:
        """Forget connections the dialler has closed (keeps this process's descriptors bounded)."""
        with self._accepted:
            alive = []
            for conn in self._held:
                try:
                    conn.setblocking(False)
                    gone = conn.recv(1, socket.MSG_PEEK) == b""
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    conn.close()
                else:
                    alive.append(conn)
            self._held = alive

    def close(self) -> None:
        with self._accepted:
            self._closed = True
            held, self._held = self._held, []
        self._sock.close()
        for conn in held:
            conn.close()
