"""The server's side of pairing in a child process: a BackendSession that runs the pairing child.

A client with no linked device pairs in `pairing_child` (see there why a process).
`connect()` starts the child on the connection thread and relays its reports as events until it
ends; `pair_phone()` asks it for a code; `stop()` ends it (SIGTERM, then SIGKILL, bounded waits)
and reaps it, so an abandoned pairing (timeout, re-pair, delete, shutdown) leaves nothing behind.
After PairSuccess the child exits by itself and the worker connects in-process over the paired
file (`ends_after_pairing`). No neonize import here: the server never runs Go's QR loop.

whatsmeow's QR schedule (qrchan.go, emitQRs): the server sends 6 QR refs; the first code is shown
60 s, every later one 20 s, then the channel closes and the client disconnects. A pairing code is
tied to that login socket, so it dies with it: PAIRING_WINDOW = 60 + 5 x 20 = 160 s.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import backend_api as bk
from ..reasons import clip

log = logging.getLogger("wamulti.backends.neonize.neonize_backend")

QR_FIRST_SECONDS, QR_NEXT_SECONDS, QR_CODES = 60.0, 20.0, 6
PAIRING_WINDOW = QR_FIRST_SECONDS + (QR_CODES - 1) * QR_NEXT_SECONDS
CHILD_MODULE = "wamulti.backends.neonize.pairing_child"
CODE_ANSWER_SECONDS = 20.0  # longest pair_phone waits for the child's answer
TERM_GRACE = 2.0  # after SIGTERM, before SIGKILL
EXIT_GRACE = 10.0  # a child that said its last word exits by itself; this long at most


@dataclass(frozen=True)
class ChildSpec:
    """How pairing children are started. `extra_args` and `env` are for tests only (no setting
    reaches them): the environment is the server's own, which carries HTTPS_PROXY/HTTP_PROXY."""

    log_level: str = "INFO"
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    code_answer_seconds: float = CODE_ANSWER_SECONDS

    def command(self, path: Path, client_id: str, event_fd: int) -> list[str]:
        return [sys.executable, "-m", CHILD_MODULE, str(path), client_id, str(event_fd), self.log_level,
                *self.extra_args]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "GOTRACEBACK": "none", **self.env}


def end_process(proc: subprocess.Popen, grace: float) -> None:
    """Wait up to grace for proc to exit, then SIGKILL it; always reaped and its stdin closed."""
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass


class PairingChildSession(bk.BackendSession):
    """One pairing attempt in a child process, seen by the worker as a BackendSession."""

    ends_after_pairing = True

    def __init__(self, client_id: str, path: Path, emit: Callable[[bk.Event], None], spec: ChildSpec):
        self.client_id = client_id
        self._path = path
        self._emit = emit
        self._spec = spec
        self._lock = threading.Lock()  # guards _proc, _stopped and writes to the child's stdin
        self._proc: subprocess.Popen | None = None
        self._stopped = False
        self._paired = False
        self._answers: queue.Queue = queue.Queue()  # the child's answers to pair_phone

    @property
    def pid(self) -> int | None:
        """The child's process id while it was started (read-only; for tests and logs)."""
        return None if self._proc is None else self._proc.pid

    @property
    def exit_code(self) -> int | None:
        """The child's exit status once it was reaped, else None (read-only; for tests and logs)."""
        return None if self._proc is None else self._proc.returncode

    # ---- connect: the connection thread --------------------------------------------------------
    def connect(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._proc, reports = self._spawn()
        try:
            last = self._relay(reports)
        finally:
            reports.close()
            self._answers.put({"code_error": "the pairing process has ended"})
            if not self._stopped:  # after its last word (or its death) the child exits by itself: reap it
                end_process(self._proc, EXIT_GRACE)
        self._after(last)

    def _spawn(self) -> tuple[subprocess.Popen, object]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        read_fd, write_fd = os.pipe()
        try:
            proc = subprocess.Popen(self._spec.command(self._path, self.client_id, write_fd),
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(write_fd,),
                                    env=self._spec.environment(), start_new_session=True)
        except OSError as exc:
            os.close(read_fd)
            raise bk.ConnectFailed(f"pairing process not started: {type(exc).__name__}") from None
        finally:
            os.close(write_fd)
        return proc, os.fdopen(read_fd, "r", encoding="utf-8", errors="replace")

    def _relay(self, reports) -> dict | None:
        """Events from the child's reports; its last word, or None when it died without one."""
        for line in reports:
            try:
                report = json.loads(line)
            except ValueError:
                continue
            if "qr" in report:
                self._emit(bk.QrUpdated(str(report["qr"])))
            elif "code" in report or "code_error" in report:
                self._answers.put(report)
            elif "paired" in report:
                self._paired = True
                self._emit(bk.PairSuccess(str(report["paired"])))
                return report
            elif "failed" in report or "ended" in report:
                return report
        return None

    def _after(self, last: dict | None) -> None:
        """How connect() ends: normally, ConnectFailed, or PairFailed when the child died."""
        if last is None:
            if self._stopped:
                return
            why = f"the pairing process ended unexpectedly (exit status {self._proc.returncode})"
            log.warning("[%s] %s", self.client_id, why)
            self._emit(bk.PairFailed(why))
        elif "failed" in last:
            self._emit(bk.PairFailed(clip(str(last["failed"]))))
        elif last.get("ended"):
            raise bk.ConnectFailed(clip(str(last["ended"])))

    # ---- calls: the worker thread --------------------------------------------------------------
    def pair_phone(self, phone_digits: str) -> str:
        self._ask({"pair_phone": phone_digits})
        try:
            answer = self._answers.get(timeout=self._spec.code_answer_seconds)
        except queue.Empty:
            raise bk.PairingError("no answer from the pairing process") from None
        if "code" in answer:
            return str(answer["code"])
        raise bk.PairingError(clip(str(answer["code_error"])))

    def _ask(self, command: dict) -> None:
        with self._lock:
            proc = self._proc
            if self._stopped or proc is None or proc.poll() is not None:
                raise bk.PairingError("session stopped" if self._stopped else "not connected")
            while not self._answers.empty():  # a stale answer (an ended child's) is not this one's
                self._answers.get_nowait()
            try:
                proc.stdin.write((json.dumps(command) + "\n").encode())
                proc.stdin.flush()
            except OSError:
                raise bk.PairingError("the pairing process has ended") from None

    def feed(self, kind: str, **fields) -> None:
        """Tests only (a child started with --test-feed): push an event into the child."""
        self._ask({"feed": kind, **fields})

    def send_text(self, to_jid: str, text: str, message_id: str | None = None) -> bk.SentMessage:
        raise bk.NotConnected("not linked yet")

    def lookup_phone(self, digits: str) -> str | None:
        raise bk.NotConnected("not linked yet")

    def logout(self) -> None:
        raise bk.BackendError("not linked yet")

    def stop(self) -> None:
        """End the child and reap it; a paired child is given time to exit by itself. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            proc = self._proc
        if proc is None:
            return
        if not self._paired and proc.poll() is None:
            proc.terminate()
        end_process(proc, EXIT_GRACE if self._paired else TERM_GRACE)
