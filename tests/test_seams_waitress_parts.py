"""What wamulti/seams/waitress_internals.py's parts do. QuietChannel: the serving loop leaves a channel alone while
its request thread writes, and sends what the socket did not take once the thread lets go; OneSendTask:
an answer in one piece goes out with its header in one send; PassDispatcher: request threads woken
once per serving-loop pass, reads ahead of queued sends."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.conftest import wait_until
from wamulti.seams.waitress_internals import PassDispatcher, QuietChannel, create_tuned_server, run_in_passes
from tests.slow_reading import CHUNK, read_until, slow_reader, streaming_server  # noqa: F401 (a fixture)



@pytest.fixture
def serve():
    """serve(app): a server with both parts for a WSGI app, run_in_passes on a thread; stopped after."""
    running = []

    def start(app):
        # the loop wakes only when told to (waitress's default is 1 s), so a missed trigger shows as a stall
        server = create_tuned_server(app, frozenset({"channel", "passes"}), threads=2, host="127.0.0.1", port=0,
                                     asyncore_use_poll=True, asyncore_loop_timeout=30)
        passes = threading.Semaphore(0)
        wake_pending = server.task_dispatcher.wake_pending

        def counted_wake_pending():  # called once at the end of every pass of the loop
            wake_pending()
            passes.release()

        server.task_dispatcher.wake_pending = counted_wake_pending
        server.passes = passes
        loop = threading.Thread(target=run_in_passes, args=(server,), name="loop", daemon=True)
        loop.start()
        running.append(server)
        return server

    yield start
    for server in running:
        # the listener and the trigger; the loop (a daemon) ends once its 30 s poll returns, as the tests'
        # connections are closed too: not waited for
        server.close()
        server.task_dispatcher.shutdown(timeout=2)


def the_channel(server) -> QuietChannel:
    return next(c for c in server._map.values() if isinstance(c, QuietChannel))


def test_the_loop_sends_what_the_socket_did_not_take_while_the_request_still_runs(streaming_server):
    server, go = streaming_server
    client = slow_reader(server)
    assert the_channel(server).total_outbufs_len > 0  # the rest is the loop's to send
    received = bytearray()
    read_until(client, received, 1)
    head = bytes(received).partition(b"\r\n\r\n")[0]
    read_until(client, received, len(head) + 4 + CHUNK)
    go.set()
    read_until(client, received, len(head) + 4 + CHUNK + 3)
    assert bytes(received).endswith(b"x" * 16 + b"end")
    client.close()


def test_output_left_while_the_loop_passed_the_channel_by_is_still_sent(streaming_server):
    server, go = streaming_server
    pull_trigger, late = server.pull_trigger, []

    def late_pull_trigger():
        """Test double for the race: the request thread's first trigger, pulled while it holds the
        channel's lock, is seen by the loop (which passes the channel by) before the lock is let go."""
        first = threading.current_thread().name.startswith("waitress") and not late
        while first and server.passes.acquire(blocking=False):  # passes before this one
            pass
        pull_trigger()
        if first:
            late.append(True)
            server.passes.acquire(timeout=2)
            time.sleep(0.2)  # the loop is back in poll(), this channel not in it

    server.pull_trigger = late_pull_trigger
    client = slow_reader(server)
    assert late
    received = bytearray()
    read_until(client, received, 1)  # without a trigger once the lock is free: a 30 s stall
    head = bytes(received).partition(b"\r\n\r\n")[0]
    read_until(client, received, len(head) + 4 + CHUNK)
    go.set()
    client.close()


def test_a_channel_with_output_waiting_is_not_polled_while_a_thread_holds_its_lock(streaming_server):
    server, go = streaming_server
    client = slow_reader(server)
    channel = the_channel(server)
    assert channel.total_outbufs_len > 0 and channel.writable()
    held, release = threading.Event(), threading.Event()

    def writer():  # stands for a request thread in the middle of sending
        with channel.outbuf_lock:
            held.set()
            release.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    held.wait(5)
    assert not channel.writable()
    release.set()
    thread.join(5)
    assert channel.writable()
    client.close()


def test_an_answer_given_in_one_piece_goes_out_with_its_header_in_one_send(serve, monkeypatch):
    sends = []
    real_send = QuietChannel.send
    monkeypatch.setattr(QuietChannel, "send", lambda self, data, do_close=True: sends.append(bytes(data))
                        or real_send(self, data, do_close))

    def app(environ, start_response):  # as Flask answers: the whole body in one piece
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "11")])
        return [b'{"ok":true}']

    server = serve(app)
    client = socket.create_connection(("127.0.0.1", int(server.effective_port)), timeout=5)
    client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    received = bytearray()
    while not received.endswith(b'{"ok":true}'):
        received += client.recv(1 << 16)
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 11\r\n" in received
    assert len(sends) == 1 and sends[0] == bytes(received), "header and body in one send"
    client.close()


class RecordingTask:
    """Test double for a waitress channel: its first request's method, and when it was served."""

    def __init__(self, command: str, served: list):
        self.requests = [type("Request", (), {"command": command})()]
        self.command, self.served = command, served

    def service(self) -> None:
        self.served.append(self.command)

    def cancel(self) -> None:
        pass


def test_reads_go_ahead_of_queued_sends_in_the_order_they_came():
    served: list[str] = []
    dispatcher = PassDispatcher(0)  # no thread yet: everything stays queued
    for command in ("POST", "GET", "POST", "HEAD", "DELETE", "GET"):
        dispatcher.add_task(RecordingTask(command, served))
    assert [task.command for task in dispatcher.queue] == ["GET", "HEAD", "GET", "POST", "POST", "DELETE"]
    dispatcher.set_thread_count(1)
    dispatcher.wake_pending()
    wait_until(lambda: len(served) == 6)
    assert served == ["GET", "HEAD", "GET", "POST", "POST", "DELETE"]
    dispatcher.shutdown(timeout=2)


def test_a_task_the_loop_queues_waits_for_the_end_of_the_pass():
    served: list[str] = []
    dispatcher = PassDispatcher(2)
    wait_until(lambda: dispatcher.active_count == 0)  # both threads idle, waiting for work
    dispatcher.add_task(RecordingTask("POST", served))
    dispatcher.add_task(RecordingTask("POST", served))
    time.sleep(0.3)
    assert served == []  # queued, nobody woken yet
    dispatcher.wake_pending()
    wait_until(lambda: len(served) == 2)
    dispatcher.shutdown(timeout=2)


def test_a_task_another_thread_queues_is_served_at_once():
    served: list[str] = []
    dispatcher = PassDispatcher(1)
    wait_until(lambda: dispatcher.active_count == 0)
    other = threading.Thread(target=dispatcher.add_task, args=(RecordingTask("POST", served),))
    other.start()
    other.join()
    wait_until(lambda: served == ["POST"])  # without any wake_pending()
    dispatcher.shutdown(timeout=2)
