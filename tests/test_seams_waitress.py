"""The contract of wamulti/seams/waitress_internals.py: the pinned waitress version, and every attribute and method
the seam touches, with the shape it expects. When waitress moves, this fails before the seam breaks."""

from __future__ import annotations

import collections
import importlib.metadata
import inspect
import socket
import threading
from types import SimpleNamespace

import pytest
import waitress
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

from wamulti.web import http_server
from wamulti.seams import waitress_internals as seam


def test_the_pinned_version_is_installed():
    assert importlib.metadata.version("waitress") == seam.PINNED_VERSION


def test_create_server_takes_a_dispatcher_through_its_test_shim():
    assert "_dispatcher" in inspect.signature(waitress.create_server).parameters


def test_request_threads_send_their_own_answers_by_default():
    """QuietChannel assumes waitress's default: a request thread flushes as soon as it writes."""
    assert Adjustments().send_bytes == 1


def test_the_server_has_what_run_in_passes_and_the_channel_part_use():
    assert isinstance(BaseWSGIServer.channel_class, type) and issubclass(BaseWSGIServer.channel_class, HTTPChannel)
    loop = inspect.signature(BaseWSGIServer.asyncore.loop).parameters
    assert list(loop) == ["timeout", "use_poll", "map", "count"]
    assert callable(BaseWSGIServer.pull_trigger)
    adj = Adjustments()
    assert isinstance(adj.asyncore_loop_timeout, int) and isinstance(adj.asyncore_use_poll, bool)


def test_the_task_dispatcher_has_what_pass_dispatcher_uses():
    dispatcher = ThreadedTaskDispatcher()
    assert isinstance(dispatcher.queue, collections.deque)
    assert isinstance(dispatcher.queue_cv, threading.Condition)
    with pytest.raises(RuntimeError):  # notify() needs the condition's lock held ...
        dispatcher.queue_cv.notify()
    with dispatcher.lock:  # ... which is the dispatcher's lock
        dispatcher.queue_cv.notify()
    for method in ("add_task", "set_thread_count", "shutdown"):
        assert callable(getattr(dispatcher, method))
    assert "timeout" in inspect.signature(dispatcher.shutdown).parameters


def test_server_channel_task_and_request_have_what_the_seam_uses(monkeypatch):
    for method in ("writable", "write_soon", "service"):
        assert callable(getattr(HTTPChannel, method))
    for method in ("write", "build_response_header"):
        assert callable(getattr(WSGITask, method))
    tasks, channels = [], []

    class RecordingTask(seam.OneSendTask):
        def write(self, data):
            tasks.append(self)
            channels.append(self.channel)
            return super().write(data)

    monkeypatch.setattr(seam.QuietChannel, "task_class", RecordingTask)
    queued = []  # (task, its first request's method) as waitress hands them to the dispatcher
    add_task = seam.PassDispatcher.add_task
    monkeypatch.setattr(seam.PassDispatcher, "add_task", lambda self, task: queued.append(
        (task, task.requests[0].command)) or add_task(self, task))

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    settings = SimpleNamespace(host="127.0.0.1", port=0, http_threads=1, max_body_bytes=1 << 20, media_max_bytes=64 << 20,
                               http_connection_limit=10)
    server = http_server.build_http_server(settings, app, seam.PARTS)
    loop = threading.Thread(target=seam.run_in_passes, args=(server,), name="loop", daemon=True)
    loop.start()
    try:
        client = socket.create_connection(("127.0.0.1", int(server.effective_port)), timeout=5)
        client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        assert client.recv(1 << 16).endswith(b"ok")
        client.close()
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=2)
    task, channel = tasks[0], channels[0]
    for name in ("wrote_header", "complete", "has_body", "chunked_response"):
        assert isinstance(getattr(task, name), bool), name
    assert isinstance(task.content_length, int) and isinstance(task.content_bytes_written, int)
    assert isinstance(channel, seam.QuietChannel) and channel.server is server
    assert callable(channel.outbuf_lock.acquire) and callable(channel.outbuf_lock.release)
    assert isinstance(channel.total_outbufs_len, int) and isinstance(channel.requests, list)
    assert isinstance(server._map, dict) and server.adj.asyncore_use_poll is True  # noqa: SLF001
    assert isinstance(server.task_dispatcher, seam.PassDispatcher)
    assert len(queued) == 1 and queued[0][0] is channel and queued[0][1] == "GET"  # a channel is the task
