"""The prompt queue: one console prompt at a time, in the order requested (see the package docstring)."""

from __future__ import annotations

import collections
import logging
import os
import sys
import threading
import time
from typing import Callable

from ..errors import InvalidField
from ..fields.phone import normalize_phone
from .screen import PromptAwareHandler, Screen
from .terminal_input import TerminalInput, Waited, readable_fd

log = logging.getLogger(__package__)  # "wamulti.console": the name log lines have always shown

MODES = ("auto", "on", "off")
NO_PHONE = "no_phone_number"
PROMPT = "[{id}] Enter the phone number to pair (with country code): "
LINK_STEPS = ("On the phone: WhatsApp > Settings > Linked devices > Link a device > "
              "Link with phone number instead, then enter the code.")

# Process-wide: the prompt that reads the terminal holds it throughout (another prompter in the
# same process waits for its turn).
INPUT_LOCK = threading.Lock()


class PromptTicket:
    """One request for a phone number; answered at most once, never after it was cancelled."""

    def __init__(self, client_id: str, on_answer: Callable[[str | None, str | None], None]):
        self.client_id = client_id
        self._on_answer = on_answer
        self._lock = threading.Lock()
        self._answered = False
        self._cancelled = False

    def __repr__(self) -> str:
        return f"PromptTicket({self.client_id!r}, answered={self._answered}, cancelled={self._cancelled})"

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def answer(self, digits: str | None, reason: str | None) -> bool:
        """Call on_answer once; False if the ticket was already answered or cancelled."""
        with self._lock:
            if self._answered or self._cancelled:
                return False
            self._answered = True
        self._on_answer(digits, reason)
        return True

    def cancel(self) -> bool:
        """Make sure on_answer is never called; False if it was already answered or cancelled."""
        with self._lock:
            if self._answered or self._cancelled:
                return False
            self._cancelled = True
        return True


def _open_input(mode: str, stream) -> TerminalInput | None:
    """The input prompts read, or None when the console is off."""
    if mode == "off":
        return None
    fd = readable_fd(stream)
    if fd is None:
        if mode == "on":
            log.warning("PAIRING_CONSOLE=on but stdin cannot be read: console pairing is off")
        return None
    if mode == "auto" and not os.isatty(fd):
        return None
    return TerminalInput(fd)


def _console_reason(exc: InvalidField) -> str:
    """normalize_phone's message reworded for the console, with control characters made visible."""
    message = exc.message
    prefix = "Field 'phone' "
    if message.startswith(prefix):
        message = "The number " + message[len(prefix):]
    return "".join(c if c.isprintable() else "?" for c in message)


class ConsolePrompter:
    """Asks for phone numbers on stdin/stdout for clients created without one."""

    def __init__(self, mode: str, timeout: float, stdin=None, stdout=None, max_tries: int = 3):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if timeout <= 0 or max_tries < 1:
            raise ValueError("timeout must be > 0 and max_tries >= 1")
        self._timeout = float(timeout)
        self._max_tries = max_tries
        self._input = _open_input(mode, stdin if stdin is not None else sys.stdin)
        typed = self._input.unfinished_line if self._input is not None else None
        self._screen = Screen(stdout if stdout is not None else sys.stdout, typed)
        self._cond = threading.Condition()
        self._queue: collections.deque[PromptTicket] = collections.deque()
        self._messages: collections.deque[str] = collections.deque()
        self._closing = False
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """Whether prompts are shown (PAIRING_CONSOLE on, or auto with stdin a terminal)."""
        return self._input is not None

    # ---- called from workers -----------------------------------------------------------------
    def request_phone(self, client_id: str, on_answer: Callable[[str | None, str | None], None]) -> PromptTicket:
        """Queue a prompt for client_id and return at once; on_answer(digits, None) or
        on_answer(None, "no_phone_number") follows later, exactly once unless cancelled."""
        ticket = PromptTicket(client_id, on_answer)
        queued = False
        if self.enabled:
            with self._cond:
                if not self._closing:
                    self._queue.append(ticket)
                    self._ensure_thread()
                    self._cond.notify_all()
                    queued = True
        if not queued:
            log.debug("[%s] console disabled or closed: no prompt", client_id)
            ticket.answer(None, NO_PHONE)
        return ticket

    def cancel(self, ticket: PromptTicket) -> None:
        """The client is gone: drop its queued prompt or end its active one; on_answer is not called."""
        if not ticket.cancel():
            return
        with self._cond:
            try:
                self._queue.remove(ticket)
            except ValueError:
                pass  # active (or being taken): the console thread sees `cancelled`
            self._cond.notify_all()
        self._wake()

    def show_pairing_code(self, client_id: str, code: str, expires_in: float | None = None) -> None:
        """Print the pairing code, how long it works, and the steps to enter it on the phone (console
        only, never logged)."""
        lives = ""
        if expires_in is not None:
            until = time.strftime("%H:%M:%S", time.localtime(time.time() + expires_in))
            lives = f"\n[{client_id}] The code works for {expires_in:.0f} s (until {until}); then POST .../pair for a new one."
        self._say(f"[{client_id}] Pairing code: {code}{lives}\n[{client_id}] {LINK_STEPS}")

    def show_qr(self, client_id: str, data: str) -> None:
        """Print the QR code as terminal text (console only, never logged)."""
        from ..clients.qr_codes import qr_text  # segno only when a QR code is shown

        self._say(f"[{client_id}] Scan this QR code with WhatsApp > Settings > Linked devices > Link a device:\n"
                  f"{qr_text(data).rstrip(chr(10))}")

    def close(self, timeout: float = 2.0) -> None:
        """Stop the console thread (bounded join); prompts still waiting are answered no_phone_number."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        self._wake()
        if thread is not None:
            thread.join(timeout)
        for ticket in self._drain():
            ticket.answer(None, NO_PHONE)
        if thread is None or not thread.is_alive():  # else it may still wait on the wake pipe
            self._flush_messages(None)
            if self._input is not None:
                self._input.close()

    def log_handler(self, stream=None) -> logging.Handler:
        """A logging handler (default: stderr) that keeps a waiting prompt readable: a record
        logged while a prompt waits goes on its own line and the prompt is shown again below it."""
        return PromptAwareHandler(self._screen, stream)

    # ---- messages ----------------------------------------------------------------------------
    def _say(self, message: str) -> None:
        with self._cond:
            direct = self._thread is None or self._closing
            if not direct:
                self._messages.append(message)
                self._cond.notify_all()
        if direct:
            self._screen.write(message + "\n")
        else:
            self._wake()  # a waiting prompt prints it and shows itself again

    def _flush_messages(self, prompt: str | None) -> None:
        """Print queued messages; above `prompt` (shown again, with any unfinished input) if one waits."""
        with self._cond:
            messages = list(self._messages)
            self._messages.clear()
        if messages:
            text = "".join(m + "\n" for m in messages)
            if prompt is None:
                self._screen.write(text)
            else:
                self._screen.interrupt_prompt(text, prompt)

    def _wake(self) -> None:
        if self._input is not None:
            self._input.wake()

    # ---- the console thread ------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        """Start wa-console (called with self._cond held)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="wa-console", daemon=True)
            self._thread.start()

    def _drain(self) -> list[PromptTicket]:
        with self._cond:
            tickets = list(self._queue)
            self._queue.clear()
        return tickets

    def _next(self) -> PromptTicket | None:
        """The next ticket in FIFO order, printing queued messages while idle; None when closing."""
        while True:
            self._flush_messages(None)
            with self._cond:
                while not (self._queue or self._messages or self._closing):
                    self._cond.wait()
                if self._closing:
                    return None
                if self._queue and not self._messages:
                    return self._queue.popleft()

    def _serve(self) -> None:
        while True:
            ticket = self._next()
            if ticket is None:
                return
            try:
                if not self._acquire_input(ticket):
                    ticket.answer(None, NO_PHONE)  # no-op if it was cancelled
                    continue
                try:
                    self._prompt(ticket)
                finally:
                    self._screen.forget_prompt()
                    INPUT_LOCK.release()
            except Exception:  # the console must never take the server down
                log.exception("[%s] console prompt failed", ticket.client_id)
                ticket.answer(None, NO_PHONE)

    def _acquire_input(self, ticket: PromptTicket) -> bool:
        """Take the process-wide input lock (another prompter may own the terminal); False if the
        ticket was cancelled or the prompter is closing meanwhile."""
        while not INPUT_LOCK.acquire(timeout=0.1):
            if ticket.cancelled or self._closing:
                return False
        return True

    # ---- one prompt --------------------------------------------------------------------------
    def _prompt(self, ticket: PromptTicket) -> None:
        """Ask until a valid number, max_tries invalid lines, timeout, EOF, cancel or close."""
        if ticket.cancelled:
            return
        if not self._input.at_eof:
            self._input.discard_typed_ahead()
        if self._input.at_eof:
            self._skip_without_input(ticket)
            return
        deadline = time.monotonic() + self._timeout  # counted from the moment the prompt appears
        prompt = PROMPT.format(id=ticket.client_id)
        self._screen.write(prompt, prompt)
        tries = 0
        while True:
            line = self._read_answer(ticket, deadline, prompt)
            if ticket.cancelled:
                self._screen.write(f"\n[{ticket.client_id}] pairing cancelled\n")
                log.debug("[%s] console prompt cancelled", ticket.client_id)
                return
            if line is None:
                self._stop_without_answer(ticket)
                return
            try:
                digits = normalize_phone(line, "phone")
            except InvalidField as exc:
                tries += 1
                if self._give_up_or_ask_again(ticket, prompt, _console_reason(exc), tries):
                    return
                continue
            log.debug("[%s] console prompt answered", ticket.client_id)
            ticket.answer(digits, None)
            return

    def _read_answer(self, ticket: PromptTicket, deadline: float, prompt: str) -> str | None:
        """One line for this prompt, or None on timeout, EOF, cancel or close."""
        told_background = False
        while not self._input.has_line():
            if ticket.cancelled or self._closing or time.monotonic() >= deadline:
                return None
            if not (told_background or self._input.foreground()):
                told_background = True
                self._screen.write(f"\n[{ticket.client_id}] The server runs in the background: bring it to the "
                                   f"foreground (fg) to answer.\n{prompt}", prompt)
            waited = self._input.wait(deadline)
            if waited is Waited.ENDED:
                return None
            if waited is Waited.WOKEN:
                self._flush_messages(prompt)
        # the cursor went to a new line with Enter: forget the prompt before the line leaves the
        # buffer, so a log line written meanwhile never shows the prompt again with the rest
        self._screen.forget_prompt()
        return self._input.take_line()

    def _skip_without_input(self, ticket: PromptTicket) -> None:
        client_id = ticket.client_id
        self._screen.write(f"[{client_id}] No console input (stdin is closed): pair it over the API "
                           f"(POST /api/clients/{client_id}/pair with a phone).\n")
        log.info("[%s] console prompt skipped: stdin is closed", client_id)
        ticket.answer(None, NO_PHONE)

    def _stop_without_answer(self, ticket: PromptTicket) -> None:
        """Timeout, EOF or close: say which, answer no_phone_number."""
        if self._closing:
            why, short = "the server is stopping", "closing"
        elif self._input.at_eof:
            why, short = "stdin is closed", "eof"
        else:
            why, short = f"no answer within {self._timeout:g}s", "timeout"
        self._screen.write(f"\n[{ticket.client_id}] {why}: pairing stopped (pair it again over the API).\n")
        log.info("[%s] console prompt ended without a number (%s)", ticket.client_id, short)
        ticket.answer(None, NO_PHONE)

    def _give_up_or_ask_again(self, ticket: PromptTicket, prompt: str, reason: str, tries: int) -> bool:
        """After an invalid line: True if that was the last try (answered no_phone_number)."""
        client_id = ticket.client_id
        if tries >= self._max_tries:
            self._screen.write(f"[{client_id}] {reason} No valid number after {tries} tries: "
                               "pairing stopped (pair it again over the API).\n")
            log.info("[%s] console prompt ended without a number (%d invalid tries)", client_id, tries)
            ticket.answer(None, NO_PHONE)
            return True
        left = self._max_tries - tries
        self._screen.write(f"[{client_id}] {reason} Try again ({left} {'try' if left == 1 else 'tries'} left).\n"
                           + prompt, prompt)
        return False
