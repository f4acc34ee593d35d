"""FakeBackend: a hand-written test double of a WhatsApp backend, driven step by step by tests.

Each session records the calls it got; tests push events with `session.emit(...)` and decide how
connect() ends. It writes a real session file on pairing, like a real backend would.
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timezone
from pathlib import Path

from wamulti.backends.backend_api import Backend, BackendSession, ConnectFailed, Event, SentMessage


class SessionRecorder:
    """Mixin for test backends: keeps every session handed out, in order, so a test can wait for one.

    Put it before the backend class (`class B(SessionRecorder, RealBackend)`) and pass each new
    session through `record_session`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sessions: list = []
        self.created = threading.Condition()

    def record_session(self, session):
        with self.created:
            self.sessions.append(session)
            self.created.notify_all()
        return session

    def wait_created(self, count: int, timeout: float = 5.0):
        """The count-th session created (1-based), waiting for it to exist."""
        with self.created:
            assert self.created.wait_for(lambda: len(self.sessions) >= count, timeout), "session not created"
            return self.sessions[count - 1]


class FakeSession(BackendSession):
    def __init__(self, backend: "FakeBackend", client_id: str, path: Path, emit):
        self.backend, self.client_id, self.path, self._emit = backend, client_id, path, emit
        self.calls: list[tuple] = []
        self.stopped = threading.Event()
        self.connected = threading.Event()
        self.send_delay = 0.0
        self.send_error: Exception | None = None
        # lookup_phone's answers: digits -> JID (None: not on WhatsApp); unlisted numbers are on
        # WhatsApp as given. lookup_error makes the lookup itself fail.
        self.numbers: dict[str, str | None] = {}
        self.lookup_error: Exception | None = None
        self.lookup_delay = 0.0
        self._wa_ids = itertools.count(1)

    def emit(self, event: Event) -> None:
        self._emit(event)

    def connect(self) -> None:
        self.calls.append(("connect",))
        self.connected.set()
        failure = self.backend.connect_failure
        if failure is not None:
            raise ConnectFailed(failure)
        self.stopped.wait()

    def pair_phone(self, phone_digits: str) -> str:
        self.calls.append(("pair_phone", phone_digits))
        return self.backend.next_code

    def lookup_phone(self, digits: str) -> str | None:
        self.calls.append(("lookup_phone", digits))
        if self.lookup_delay:
            self.stopped.wait(self.lookup_delay)
        if self.lookup_error is not None:
            raise self.lookup_error
        return self.numbers.get(digits, f"{digits}@s.whatsapp.net")

    def send_text(self, to_jid: str, text: str, message_id: str | None = None) -> SentMessage:
        """Like neonize 0.5.2 it cannot send with the chosen id: the id it returns is its own."""
        self.calls.append(("send_text", to_jid, text))
        wa_id = f"MSG{next(self._wa_ids)}"  # unique also when sends overlap
        if self.send_delay:
            self.stopped.wait(self.send_delay)
        if self.send_error is not None:
            raise self.send_error
        return SentMessage(wa_id, datetime.now(timezone.utc))

    def logout(self) -> None:
        self.calls.append(("logout",))

    def stop(self) -> None:
        self.calls.append(("stop",))
        self.stopped.set()

    def write_keys(self, content: bytes = b"fake-keys") -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(content)


class FakeBackend(SessionRecorder, Backend):
    name = "fake"

    def __init__(self):
        super().__init__()
        self.connect_failure: str | None = None
        self.next_code = "ABCD-EFGH"

    def new_session(self, client_id, session_path, emit) -> FakeSession:
        return self.record_session(FakeSession(self, client_id, Path(session_path), emit))

    def wait_session(self, count: int, timeout: float = 5.0) -> FakeSession:
        """The count-th session created (1-based), once its connect() was called."""
        session = self.wait_created(count, timeout)
        assert session.connected.wait(timeout), "connect() not called"
        return session


class FakePrompter:
    """A test double of ConsolePrompter (it fits wamulti.clients.Prompter): answers are given by the test."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.requests: dict[str, object] = {}
        self.codes: list[tuple[str, str]] = []
        self.code_lifetimes: list[float | None] = []  # expires_in of each code shown
        self.cancelled: list[str] = []
        self._cond = threading.Condition()

    def request_phone(self, client_id, on_answer):
        with self._cond:
            self.requests[client_id] = on_answer
            self._cond.notify_all()
        return client_id

    def answer(self, client_id, digits, reason=None, timeout=5.0):
        with self._cond:
            assert self._cond.wait_for(lambda: client_id in self.requests, timeout)
            on_answer = self.requests.pop(client_id)
        on_answer(digits, reason)

    def cancel(self, ticket):
        self.cancelled.append(ticket)

    def show_pairing_code(self, client_id, code, expires_in=None):
        self.codes.append((client_id, code))
        self.code_lifetimes.append(expires_in)

    def show_qr(self, client_id, data):
        pass

    def close(self):
        pass
