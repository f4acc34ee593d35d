"""The real server set-up (build_http_server) on waitress's public loop: an answer larger than the socket
takes at once reaches a slow reader while its request still runs, and small answers keep coming on
one kept-alive connection."""

from __future__ import annotations

import os
import signal
import socket
import threading
from types import SimpleNamespace

import pytest

from wamulti import server as server_module
from wamulti.web import http_server
from tests.slow_reading import CHUNK, read_until, slow_reader, streaming_server  # noqa: F401 (a fixture)



@pytest.fixture
def serve():
    """serve(app): a real server (build_http_server) for a WSGI app, `server.run()` on a thread; closed after."""
    running = []

    def start(app):
        settings = SimpleNamespace(host="127.0.0.1", port=0, http_threads=2, max_body_bytes=1 << 20, media_max_bytes=64 << 20,
                                   http_connection_limit=100)
        server = http_server.build_http_server(settings, app)
        loop = threading.Thread(target=server.run, name="loop", daemon=True)
        loop.start()
        running.append((server, loop))
        return server

    yield start
    for server, loop in running:
        server.close()  # the listener and the trigger; the loop ends once the tests' connections have closed
        server.task_dispatcher.shutdown(timeout=2)
        loop.join(5)


def test_the_loop_sends_what_the_socket_did_not_take_while_the_request_still_runs(streaming_server):
    server, go = streaming_server
    client = slow_reader(server)
    received = bytearray()
    read_until(client, received, 1)
    head = bytes(received).partition(b"\r\n\r\n")[0]
    read_until(client, received, len(head) + 4 + CHUNK)  # all of the chunk before the request ends
    go.set()
    read_until(client, received, len(head) + 4 + CHUNK + 3)
    assert bytes(received).endswith(b"x" * 16 + b"end")
    client.close()


def test_small_answers_keep_coming_on_one_kept_alive_connection(serve):
    def app(environ, start_response):  # as Flask answers: the whole body in one piece
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "11")])
        return [b'{"ok":true}']

    server = serve(app)
    client = socket.create_connection(("127.0.0.1", int(server.effective_port)), timeout=5)
    for _ in range(50):
        client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        received = bytearray()
        while not received.endswith(b'{"ok":true}'):
            data = client.recv(1 << 16)
            assert data, "the server closed the connection"
            received += data
        assert received.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 11\r\n" in received
        assert received.count(b"HTTP/1.1") == 1
    client.close()


@pytest.mark.parametrize("seams", [frozenset(), frozenset({"channel"}), frozenset({"channel", "passes"})],
                         ids=["public", "channel", "channel+passes"])
def test_a_stop_signal_ends_the_serving_loop_on_the_main_thread(seams):
    """As in serve(): the loop runs on the main thread until SIGTERM; its request threads are gone after."""
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "11")])
        return [b'{"ok":true}']

    settings = SimpleNamespace(host="127.0.0.1", port=0, http_threads=2, max_body_bytes=1 << 20, media_max_bytes=64 << 20,
                               http_connection_limit=10)
    server = http_server.build_http_server(settings, app, seams)
    answers = []

    def caller():
        client = socket.create_connection(("127.0.0.1", int(server.effective_port)), timeout=5)
        for _ in range(3):
            client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            received = bytearray()
            while not received.endswith(b'{"ok":true}'):
                received += client.recv(1 << 16)
            answers.append(bytes(received))
        os.kill(os.getpid(), signal.SIGTERM)  # with the connection still open, as a kept-alive caller's

    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    stop = server_module.StopSignal.install()
    try:
        threading.Thread(target=caller, daemon=True).start()
        stop.serve(http_server.serving_loop(server, seams))
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
        server.close()
    assert stop.name == "SIGTERM"
    assert len(answers) == 3 and all(a.startswith(b"HTTP/1.1 200 OK\r\n") for a in answers)
    assert server.task_dispatcher.threads == set()


def test_a_stop_signal_during_start_up_keeps_the_loop_from_starting():
    stop = server_module.StopSignal()
    stop(signal.SIGTERM, None)  # before serve(): remembered, nothing raised into start-up
    ran = []
    stop.serve(lambda: ran.append(True))
    assert stop.name == "SIGTERM" and ran == []
