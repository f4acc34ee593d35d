"""Connection: the backend session of one worker run and the thread that holds it open.

A backend's connect() blocks while it is connected, so it runs on its own thread
(`wa-<clientId>-conn`) and reports how it ended through the inbox. Every attempt is a new
session of a new generation; ending a session moves the generation on, so whatever the old
session still emits is ignored. Called from the worker thread only, except `session` and `cut`
(any thread).
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..backends.backend_api import Backend, BackendError, BackendSession, Event
from .inbox import ConnectionEnded, SessionEvent

log = logging.getLogger(__package__)

BACKOFF_FIRST, BACKOFF_CAP = 1.0, 60.0
# after an outage a failed dial waits the cap before the next: a thousand clients retrying within
# seconds would queue at the backend's starts ahead of those that have not dialled yet
ATTEMPTS_AT_CAP = 6  # backoff_delay(ATTEMPTS_AT_CAP + 1) is the cap
STOP_JOIN_SECONDS = 5.0


def backoff_delay(attempt: int, rng=random.random) -> float:
    """1 s doubling to 60 s, with +-20 % jitter so reconnecting clients do not move in step."""
    base = min(BACKOFF_CAP, BACKOFF_FIRST * (2 ** max(0, attempt - 1)))
    return base * (0.8 + 0.4 * rng())


@dataclass(frozen=True)
class NetworkBack:
    """The backend's connectivity gate opened: dial after `delay` seconds (this client's share of the spread)."""

    delay: float


class Connection:
    """Opens, holds and ends one client's backend sessions."""

    def __init__(self, client_id: str, backend: Backend, session_path: Path, post: Callable[[object], None],
                 hear: Callable[[Event], bool] = lambda event: False):
        self._client_id = client_id
        self._backend = backend
        self._session_path = session_path
        self._post = post  # puts a message in the worker's inbox
        self._hear = hear  # publishes what the client hears, on the backend's thread; False: not heard
        self._lock = threading.Lock()  # guards _session: request threads read it to send
        self._session: BackendSession | None = None
        self._thread: threading.Thread | None = None
        self._generation = 0

    @property
    def session(self) -> BackendSession | None:
        """The open session, or None between attempts."""
        with self._lock:
            return self._session

    def is_current(self, generation: int) -> bool:
        """Whether a message of this generation comes from the open session."""
        return generation == self._generation

    def open(self, *, pairing: bool = False) -> None:
        """End any open session, then open a new one (a pairing session for an unlinked client)."""
        self.end()
        self._generation += 1
        generation = self._generation
        new_session = self._backend.new_pairing_session if pairing else self._backend.new_session
        session = new_session(
            self._client_id, self._session_path,
            lambda event: self._hear(event) or self._post(SessionEvent(generation, event)))
        with self._lock:
            self._session = session
        self._thread = threading.Thread(target=self._hold, args=(session, generation),
                                        name=f"wa-{self._client_id}-conn", daemon=True)
        self._thread.start()

    def wait_for_network(self) -> str | None:
        """None: the backend may dial now. Else the lastError to show while its connectivity gate is
        closed; NetworkBack comes through the inbox once it opens (until end() is called)."""
        gate = self._backend.connectivity
        return None if gate is None else gate.wait(self._network_back)

    def _network_back(self, delay: float) -> None:
        self._post(NetworkBack(delay))  # on the gate's probe thread

    def _hold(self, session: BackendSession, generation: int) -> None:
        """Runs on the connection thread: block in connect(), then report how it ended."""
        error = None
        try:
            session.connect()
        except BackendError as exc:
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # never let a library surprise kill the thread silently
            log.exception("[%s] connect crashed", self._client_id)
            error = type(exc).__name__
        self._post(ConnectionEnded(generation, error))

    def cut(self) -> None:
        """Stop the open session now, from any thread (the cluster's self-fence: the worker thread may be
        waiting on the store); the worker thread's end() tidies up after."""
        session = self.session
        if session is not None:
            try:
                session.stop()
            except Exception:
                log.exception("[%s] cutting the session failed", self._client_id)

    def end(self) -> None:
        """Stop the open session (or the wait for the network), wait a bounded time for its thread; idempotent."""
        if self._backend.connectivity is not None:
            self._backend.connectivity.forget(self._network_back)
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            try:
                session.stop()
            except Exception:
                log.exception("[%s] stopping the session failed", self._client_id)
        if self._thread is not None:
            self._thread.join(STOP_JOIN_SECONDS)
            if self._thread.is_alive():
                log.warning("[%s] connection thread still running after %gs", self._client_id, STOP_JOIN_SECONDS)
            self._thread = None
        self._generation += 1  # anything the old session still says is ignored
