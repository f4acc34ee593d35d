"""A real webhook receiver on 127.0.0.1 for the delivery tests and the benchmark.

Every request is checked with standardwebhooks' own `Webhook.verify` and recorded. What it answers
is up to a responder per path: `receiver.answer(path, fn)` where fn(hit) returns a status, a
(status, headers) pair, HANG (wait until closed) or TRICKLE (a byte of headers now and then).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

HANG, TRICKLE = "hang", "trickle"


@dataclass
class Hit:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    verified: bool
    status: int | str | None = None
    event: dict = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        return self.event.get("id", "")

    @property
    def client_id(self) -> str:
        return self.event.get("clientId", "")


class Receiver:
    """Start on a free port at construction; close() it."""

    def __init__(self, secret: str):
        self.secret = secret
        self.hits: list[Hit] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight_per_event = 0
        self.max_in_flight_per_client = 0
        self._responders: dict[str, object] = {}
        self._cond = threading.Condition()
        self._closed = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="test-receiver", daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def answer(self, path: str, responder) -> None:
        """Use responder(hit) for requests to `path` (default: 200)."""
        self._responders[path] = responder

    def delivered(self, client_id: str | None = None) -> list[str]:
        """Event ids answered 2xx, in arrival order (of one client when given)."""
        with self._cond:
            return [h.event_id for h in self.hits if isinstance(h.status, int) and 200 <= h.status < 300
                    and (client_id is None or h.client_id == client_id)]

    def attempts(self, client_id: str | None = None) -> list[Hit]:
        with self._cond:
            return [h for h in self.hits if client_id is None or h.client_id == client_id]

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "condition"):
        """Wait (on the receiver's own condition, woken by each request) until predicate() is truthy."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (value := predicate()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what} not reached within {timeout}s")
                self._cond.wait(min(left, 0.1))
            return value

    def close(self) -> None:
        self._closed.set()
        self.server.shutdown()
        self.server.server_close()

    # ---- request handling ------------------------------------------------------------------------
    def _record(self, hit: Hit, delta: int) -> None:
        with self._cond:
            for key in (f"event:{hit.event_id}", f"client:{hit.client_id}"):
                self.in_flight[key] = self.in_flight.get(key, 0) + delta
            if delta > 0:
                self.hits.append(hit)
                event_count, client_count = (self.in_flight[f"event:{hit.event_id}"],
                                             self.in_flight[f"client:{hit.client_id}"])
                self.max_in_flight_per_event = max(self.max_in_flight_per_event, event_count)
                self.max_in_flight_per_client = max(self.max_in_flight_per_client, client_count)
            self._cond.notify_all()

    def _verify(self, body: bytes, headers: dict) -> bool:
        try:
            Webhook(self.secret).verify(body, headers)
            return True
        except Exception:
            return False

    def receive(self, handler: BaseHTTPRequestHandler) -> None:
        """Record one POST and answer it as told (called by the server's handler thread)."""
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        hit = Hit(handler.path, headers, body, time.monotonic(), self._verify(body, headers))
        try:
            hit.event = json.loads(body)
        except ValueError:
            pass
        self._record(hit, +1)
        answered = False
        try:
            answer = self._responders.get(handler.path, lambda h: 200)(hit)
            if answer in (HANG, TRICKLE):
                hit.status = answer
                self._stall(handler, answer)
            else:
                # no longer in flight once the answer is decided: the sender may post the next
                # event the moment it reads this one, before this thread gets to run again
                answered = True
                hit.status = answer[0] if isinstance(answer, tuple) else answer
                self._record(hit, -1)
                self._respond(handler, answer)
        finally:
            if not answered:
                self._record(hit, -1)

    def _stall(self, handler: BaseHTTPRequestHandler, how: str) -> None:
        if how == HANG:
            self._closed.wait(120)
            return
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 100:
            if self._closed.wait(0.2):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    @staticmethod
    def _respond(handler: BaseHTTPRequestHandler, answer) -> None:
        status, extra = answer if isinstance(answer, tuple) else (answer, {})
        handler.send_response(status)
        for name, value in {"Content-Length": "2", **extra}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(b"ok")

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                try:
                    receiver.receive(self)
                except OSError:  # the sender cut the connection off
                    pass

            def log_message(self, format, *args):  # quiet
                pass

        return Handler
