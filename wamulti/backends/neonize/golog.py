"""Go's log lines (whatsmeow), tagged with their client, into Python logging.

neonize's connect() gives Go its module-level `log_whatsmeow` as the log callback, and the lines
carry no client. The backend swaps in a callback from here for each start (`route_go_log`,
seams/neonize_internals.py), so every line is tagged
`[clientId]`. Go's callback must not block, so one thread decodes and logs the lines; it also tells
the backend when a client's socket logs "Dialing" (Go has registered the client by then; Go logs
that line only at DEBUG). Every line that reaches it has crossed cgo and taken the GIL: Go's own
level decides how many do (backends/neonize/neonize_backend.py), and `counts` tells (bench/golog_cpu.py).
The decoder is passed in so that only backends/neonize/neonize_backend.py imports neonize.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
from collections import Counter
from typing import Any, Callable

log = logging.getLogger("wamulti.backends.neonize.neonize_backend")  # these lines keep the backend's logger name

GO_LOG_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
                 "WARNING": logging.WARNING, "ERROR": logging.ERROR}


class GoLogRouter:
    """Go's log lines, tagged with their client, into Python logging from one thread.

    `decode(bytes)` returns an entry with `.Level`, `.Name` and `.Message` (neonize's LogEntry);
    `on_dialing(client_id)` runs on the router thread.
    """

    def __init__(self, level: int, on_dialing: Callable[[str], None], decode: Callable[[bytes], Any]):
        self._level = level
        self._on_dialing = on_dialing
        self._decode = decode
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._counts: Counter = Counter()  # lines routed, by Go's level name (router thread only)
        self._thread = threading.Thread(target=self._run, name="wa-golog", daemon=True)
        self._thread.start()

    def callback_for(self, client_id: str) -> Callable[[int, int], None]:
        """The per-client function Go calls with a serialized LogEntry (must not block)."""

        def on_log(binary: int, size: int) -> None:
            if binary and size > 0:
                self._queue.put((client_id, ctypes.string_at(binary, size)))

        return on_log

    def _run(self) -> None:
        while True:
            client_id, data = self._queue.get()
            if client_id is None:
                return
            try:
                self._route(client_id, data)
            except Exception:  # a malformed line must not stop the router
                log.debug("undecodable Go log line", exc_info=True)

    def _route(self, client_id: str, data: bytes) -> None:
        entry = self._decode(data)
        self._counts[entry.Level.upper()] += 1
        if entry.Message.startswith("Dialing"):
            self._on_dialing(client_id)
        level = GO_LOG_LEVELS.get(entry.Level.upper(), logging.INFO)
        if level >= self._level:
            logging.getLogger("whatsmeow." + entry.Name.replace("/", ".")).log(
                level, "[%s] %s", client_id, entry.Message)

    @property
    def counts(self) -> dict[str, int]:
        """How many lines Go has handed over so far, by level name (a copy)."""
        return dict(self._counts)

    def close(self) -> None:
        """Stop the router thread (waits up to 2 s for the lines already queued)."""
        self._queue.put((None, None))
        self._thread.join(2)
