"""What the serving-loop tests share: a route that sends more than the socket takes at once, and a
client that reads it slowly. `streaming_server` uses the `serve` fixture of the module that imports it."""

from __future__ import annotations

import socket
import threading

import pytest

CHUNK = 12 << 20  # far more than the sockets take at once (send buffers grow to 4 MiB by default)


@pytest.fixture
def streaming_server(serve):
    """A server whose one route sends CHUNK bytes, then waits for `go` before it ends."""
    go, waiting = threading.Event(), threading.Event()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", str(CHUNK + 3))])
        yield b"x" * CHUNK
        waiting.set()  # the chunk is written: what the socket did not take is left for the loop
        go.wait(10)
        yield b"end"

    server = serve(app)
    server.waiting = waiting
    yield server, go
    go.set()


def slow_reader(server) -> socket.socket:
    """A client with a small receive buffer that asked for the route and has read nothing by the time
    the request thread has written the chunk and waits for `go`."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 10)
    client.connect(("127.0.0.1", int(server.effective_port)))
    client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    client.settimeout(5)
    assert server.waiting.wait(5)
    return client


def read_until(client: socket.socket, received: bytearray, size: int) -> None:
    """Read into `received` until it holds `size` bytes (the server must not close first)."""
    while len(received) < size:
        data = client.recv(1 << 16)
        assert data, "the server closed the connection"
        received += data
