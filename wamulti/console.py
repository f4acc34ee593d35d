"""Pairing on the server's console: one prompt at a time, each typed line answers exactly one prompt.

A single console thread (`wa-console`) serves prompt requests in FIFO order, so prompts never
overlap; requests never block their caller (a worker), and HTTP requests never touch the console.
Input is read from the file descriptor with select() and split into lines here, so nothing typed
is swallowed by a buffer that a later prompt would read; whatever was typed while no prompt was
showing is discarded when the next prompt appears. Messages for other clients (their pairing
codes) are printed between prompts or, when a prompt is waiting, above a re-printed prompt.
Phone numbers and codes go to the console only, never to the log.
"""

from __future__ import annotations

import collections
import logging
import os
import select
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .errors import BadRequest
from .phone import normalize_phone

log = logging.getLogger(__name__)

NO_PHONE = "no_phone_number"
PROMPT = "[{id}] Enter the phone number to pair (with country code): "
LINK_STEPS = ("On the phone: WhatsApp > Settings > Linked devices > Link a device > "
              "Link with phone number instead, then enter the code.")


@dataclass(eq=False)
class PromptTicket:
    """One request for a phone number; answered at most once."""

    client_id: str
    on_answer: Callable[[str | None, str | None], None]
    cancelled: bool = False
    answered: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answer(self, digits: str | None, reason: str | None) -> None:
        with self.lock:
            if self.answered or self.cancelled:
                return
            self.answered = True
        self.on_answer(digits, reason)


def _is_tty(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False


class ConsolePrompter:
    """Asks for phone numbers on stdin/stdout for clients created without one."""

    def __init__(self, mode: str, timeout: float, stdin=None, stdout=None, max_tries: int = 3):
        self._in = stdin if stdin is not None else sys.stdin
        self._out = stdout if stdout is not None else sys.stdout
        self._timeout = timeout
        self._max_tries = max_tries
        self._enabled = mode == "on" or (mode == "auto" and _is_tty(self._in))
        self._write_lock = threading.Lock()  # the console lock: whole lines, never interleaved
        self._cond = threading.Condition()
        self._queue: collections.deque[PromptTicket] = collections.deque()
        self._messages: collections.deque[str] = collections.deque()
        self._active: PromptTicket | None = None
        self._closing = False
        self._eof = False
        self._pending = b""
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe() if self._enabled else (-1, -1)

    @property
    def enabled(self) -> bool:
        return self._enabled

    # ---- called from workers ---------------------------------------------------------------
    def request_phone(self, client_id: str, on_answer: Callable[[str | None, str | None], None]) -> PromptTicket:
        """Queue a prompt for client_id; on_answer(digits, None) or (None, reason) comes later, once."""
        ticket = PromptTicket(client_id, on_answer)
        if not self._enabled:
            ticket.answer(None, NO_PHONE)
            return ticket
        with self._cond:
            if self._closing:
                refuse = True
            else:
                refuse = False
                self._queue.append(ticket)
                self._ensure_thread()
                self._cond.notify_all()
        if refuse:
            ticket.answer(None, NO_PHONE)
        return ticket

    def cancel(self, ticket: PromptTicket) -> None:
        """Drop a queued prompt or end the active one; its on_answer is not called."""
        with ticket.lock:
            if ticket.answered:
                return
            ticket.cancelled = True
        with self._cond:
            if ticket in self._queue:
                self._queue.remove(ticket)
            self._cond.notify_all()
        self._wake()

    def show_pairing_code(self, client_id: str, code: str) -> None:
        """Print the pairing code and the steps to enter it."""
        self._say(f"[{client_id}] Pairing code: {code}\n[{client_id}] {LINK_STEPS}")

    def show_qr(self, client_id: str, data: str) -> None:
        """Print the QR code as text for scanning."""
        from .qr import qr_text

        self._say(f"[{client_id}] Scan this QR code in WhatsApp > Linked devices > Link a device:\n{qr_text(data)}")

    def close(self, timeout: float = 2.0) -> None:
        """Stop the console thread; prompts still waiting are answered no_phone_number."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        self._wake()
        if thread is not None:
            thread.join(timeout)
        for ticket in self._drain():
            ticket.answer(None, NO_PHONE)

    # ---- output ------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        with self._write_lock:
            try:
                self._out.write(text)
                self._out.flush()
            except (OSError, ValueError):
                pass  # the terminal went away; nothing to tell

    def _say(self, message: str) -> None:
        if not self._enabled or self._thread is None:
            self._write(message + "\n")
            return
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()
        self._wake()

    def _flush_messages(self, reprompt: str | None) -> None:
        with self._cond:
            messages = list(self._messages)
            self._messages.clear()
        if messages:
            text = "".join(m + "\n" for m in messages)
            self._write(("\n" + text + reprompt) if reprompt else text)

    # ---- the console thread ------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="wa-console", daemon=True)
            self._thread.start()

    def _wake(self) -> None:
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def _drain(self) -> list[PromptTicket]:
        with self._cond:
            tickets = list(self._queue)
            self._queue.clear()
        return tickets

    def _next(self) -> PromptTicket | None:
        with self._cond:
            while not self._queue and not self._closing:
                if self._messages:
                    break
                self._cond.wait()
            if self._closing:
                return None
            return self._queue.popleft() if self._queue else None

    def _serve(self) -> None:
        while True:
            self._flush_messages(None)
            ticket = self._next()
            if ticket is None:
                with self._cond:
                    if self._closing:
                        return
                continue
            self._active = ticket
            try:
                self._prompt(ticket)
            except Exception:  # the console must never take the server down
                log.exception("[%s] console prompt failed", ticket.client_id)
                ticket.answer(None, NO_PHONE)
            finally:
                self._active = None

    def _prompt(self, ticket: PromptTicket) -> None:
        if self._eof:
            self._write(f"[{ticket.client_id}] No console input (stdin closed); pair it over the API.\n")
            ticket.answer(None, NO_PHONE)
            return
        self._discard_typed_ahead()
        deadline = time.monotonic() + self._timeout
        prompt = PROMPT.format(id=ticket.client_id)
        for attempt in range(1, self._max_tries + 1):
            self._write(prompt)
            line = self._read_line(ticket, deadline, prompt)
            if ticket.cancelled:
                self._write(f"\n[{ticket.client_id}] pairing cancelled\n")
                return
            if line is None:
                why = "stdin closed" if self._eof else f"no answer within {self._timeout:g}s"
                self._write(f"\n[{ticket.client_id}] {why}; pairing stopped (re-pair over the API).\n")
                log.info("[%s] console prompt ended without a number (%s)", ticket.client_id, why)
                ticket.answer(None, NO_PHONE)
                return
            try:
                digits = normalize_phone(line.strip(), "phone number")
            except BadRequest as exc:
                left = self._max_tries - attempt
                self._write(f"[{ticket.client_id}] {exc.message}" + (f" Try again ({left} left).\n" if left else "\n"))
                continue
            log.debug("[%s] console prompt answered", ticket.client_id)
            ticket.answer(digits, None)
            return
        self._write(f"[{ticket.client_id}] No valid number after {self._max_tries} tries; pairing stopped.\n")
        ticket.answer(None, NO_PHONE)

    def _fileno(self) -> int:
        return self._in.fileno()

    def _discard_typed_ahead(self) -> None:
        """Drop input typed while no prompt was showing: it was not an answer to this prompt."""
        self._pending = b""
        fd = self._fileno()
        while True:
            ready, _, _ = select.select([fd], [], [], 0)
            if not ready:
                return
            chunk = os.read(fd, 65536)
            if not chunk:
                self._eof = True
                return

    def _read_line(self, ticket: PromptTicket, deadline: float, prompt: str) -> str | None:
        """One line for this prompt, or None on timeout/EOF/cancel/close."""
        fd = self._fileno()
        while b"\n" not in self._pending:
            if ticket.cancelled or self._closing:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd, self._wake_r], [], [], left)
            if self._wake_r in ready:
                os.read(self._wake_r, 4096)
                self._flush_messages(prompt + self._pending.decode("utf-8", "replace"))
            if fd in ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    self._eof = True
                    if self._pending.strip():
                        break  # a last line without a newline still counts
                    return None
                self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode("utf-8", "replace")
