"""A loopback HTTP proxy whose answer to CONNECT a test switches: an outage, then a return.

Used as HTTPS_PROXY of processes that dial WhatsApp, so nothing leaves the machine. Modes:
- "bad_gateway": every CONNECT is answered 502 (the proxy is up, the network behind it is not);
- "forbidden": 403;
- "drop": the connection is closed before any answer (the dial sees EOF or a reset);
- "tunnel_eof": 200, then the endpoint reads the TLS ClientHello and closes: the network is back,
  the handshake fails at once (so a start never hangs on the Go lock);
- "tunnel_hang": 200, then the endpoint never says a word (the library's TLS handshake times out).
Every CONNECT is counted with its time and the header lines it carried.
"""

from __future__ import annotations

import socket
import threading
import time

ANSWERS = {"bad_gateway": b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
           "forbidden": b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
           "tunnel_eof": b"HTTP/1.1 200 Connection established\r\n\r\n",
           "tunnel_hang": b"HTTP/1.1 200 Connection established\r\n\r\n"}
MODES = (*ANSWERS, "drop", "tunnel_hang")


class LoopbackProxy:
    def __init__(self, mode: str = "bad_gateway"):
        self.mode = mode
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(1024)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self.connects: list[tuple[float, str]] = []  # (monotonic time, mode) of every CONNECT
        self.headers: list[list[str]] = []  # the header lines of every CONNECT
        self._held: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, name="loopback-proxy", daemon=True).start()

    def switch(self, mode: str) -> float:
        """Answer later CONNECTs this way; returns the moment (monotonic) of the switch."""
        assert mode in MODES, mode
        with self._lock:
            self.mode = mode
            return time.monotonic()

    def count(self, since: float = 0.0, mode: str | None = None) -> int:
        with self._lock:
            return sum(1 for at, m in self.connects if at >= since and (mode is None or m == mode))

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="loopback-proxy-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            mode = self.mode
        if mode == "drop":
            conn.close()
            return
        try:
            request = _read_head(conn)
            if request is None:
                conn.close()
                return
            with self._lock:
                self.connects.append((time.monotonic(), mode))
                self.headers.append(request)
            conn.sendall(ANSWERS[mode])
            if mode == "tunnel_hang":
                with self._lock:
                    if not self._closed:
                        self._held.append(conn)
                        return
            if mode == "tunnel_eof":
                conn.settimeout(5)
                conn.recv(4096)  # the ClientHello: closing after reading it gives the dialler a clean EOF
        except OSError:
            pass
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            held, self._held = self._held, []
        self._sock.close()
        for conn in held:
            conn.close()


def _read_head(conn: socket.socket) -> list[str] | None:
    """The request line and headers of a CONNECT, or None if the client went away first."""
    data = b""
    conn.settimeout(10)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk or len(data) > 65536:
            return None
        data += chunk
    return data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
