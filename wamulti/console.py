"""Pairing on the server's console: one prompt at a time, each typed line answers exactly one prompt.

How it works
- `request_phone()` never blocks: it queues a ticket. One daemon thread (`wa-console`, started on
  the first request) serves the queue in FIFO order, so prompts never overlap. While a prompt owns
  the terminal's input it holds the process-wide `INPUT_LOCK`; every write to the console goes
  through the process-wide `CONSOLE_LOCK`, so messages are never interleaved mid-line.
- Input is read from the file descriptor with select() and os.read() and split into lines here
  (never sys.stdin.readline(), whose buffer would swallow lines typed ahead for later prompts).
- Typed-ahead input is DISCARDED when a prompt appears: a line typed while no prompt was showing
  (or a second line typed in one go after an answer) was not an answer to the prompt that comes
  next, so it must not be taken as one. Within one prompt, further lines answer its re-asks.
- A prompt ends with on_answer(digits, None) for a valid number (wamulti.phone.normalize_phone),
  or on_answer(None, "no_phone_number") after `max_tries` invalid lines, after `timeout` seconds
  counted from the moment the prompt appeared, on EOF (sticky: once stdin reached end-of-file,
  later prompts answer at once), when the prompter closes, or at once when the console is off.
  `cancel()` drops a queued prompt or ends the active one ("[id] pairing cancelled") and on_answer
  is then never called. on_answer is called at most once per ticket, normally on the console
  thread, so it must only hand the answer over (the worker puts it in its inbox).
- A server in a background process group (`wsgi.py &` in a shell with job control) does not read
  the terminal (that would stop the whole process with SIGTTIN); it waits until it is brought to
  the foreground or the prompt times out.
- Messages for other clients (pairing codes, QR codes) are printed between prompts or, while a
  prompt waits, above a re-printed prompt.
- Log records written to the same terminal would glue onto a waiting prompt; `log_handler()` gives
  a StreamHandler that writes them on their own line above the prompt and shows the prompt again.
- Phone numbers and pairing codes go to the console stream only, never to the log.
"""

from __future__ import annotations

import collections
import errno
import logging
import os
import select
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .errors import InvalidField
from .phone import normalize_phone

log = logging.getLogger(__name__)

MODES = ("auto", "on", "off")
NO_PHONE = "no_phone_number"
PROMPT = "[{id}] Enter the phone number to pair (with country code): "
LINK_STEPS = ("On the phone: WhatsApp > Settings > Linked devices > Link a device > "
              "Link with phone number instead, then enter the code.")

# Process-wide: whole messages are written under CONSOLE_LOCK (short holds only; other code that
# prints to the terminal may take it too); the prompt that reads stdin holds INPUT_LOCK throughout.
CONSOLE_LOCK = threading.RLock()
INPUT_LOCK = threading.Lock()

_READ_CHUNK = 4096
_BACKGROUND_POLL = 0.5  # seconds between foreground checks while the process is a background job


@dataclass(eq=False)
class PromptTicket:
    """One request for a phone number; answered at most once, never after it was cancelled."""

    client_id: str
    on_answer: Callable[[str | None, str | None], None] = field(repr=False)
    cancelled: bool = False
    answered: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answer(self, digits: str | None, reason: str | None) -> bool:
        """Call on_answer once; False if the ticket was already answered or cancelled."""
        with self.lock:
            if self.answered or self.cancelled:
                return False
            self.answered = True
        self.on_answer(digits, reason)
        return True


def _usable_fd(stream) -> int | None:
    """The stream's file descriptor if it can be select()ed and read, else None."""
    try:
        fd = stream.fileno()
        os.fstat(fd)
        return fd
    except (AttributeError, ValueError, OSError):  # None, closed, StringIO (io.UnsupportedOperation)
        return None


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
        self._in = stdin if stdin is not None else sys.stdin
        self._out = stdout if stdout is not None else sys.stdout
        self._timeout = float(timeout)
        self._max_tries = max_tries
        self._fd = _usable_fd(self._in) if mode != "off" else None
        self._tty = self._fd is not None and os.isatty(self._fd)
        if mode == "off":
            self._enabled = False
        elif self._fd is None:
            self._enabled = False
            if mode == "on":
                log.warning("PAIRING_CONSOLE=on but stdin cannot be read: console pairing is off")
        else:
            self._enabled = mode == "on" or self._tty
        self._cond = threading.Condition()
        self._queue: collections.deque[PromptTicket] = collections.deque()
        self._messages: collections.deque[str] = collections.deque()
        self._closing = False
        self._eof = False
        self._pending = b""
        self._thread: threading.Thread | None = None
        self._wake_r = self._wake_w = -1
        self._showing: str | None = None  # the prompt the cursor stands after (under CONSOLE_LOCK)

    @property
    def enabled(self) -> bool:
        """Whether prompts are shown (PAIRING_CONSOLE on, or auto with stdin a terminal)."""
        return self._enabled

    # ---- called from workers -----------------------------------------------------------------
    def request_phone(self, client_id: str, on_answer: Callable[[str | None, str | None], None]) -> PromptTicket:
        """Queue a prompt for client_id and return at once; on_answer(digits, None) or
        on_answer(None, "no_phone_number") follows later, exactly once unless cancelled."""
        ticket = PromptTicket(client_id, on_answer)
        refuse = not self._enabled
        if not refuse:
            with self._cond:
                if self._closing:
                    refuse = True
                else:
                    self._queue.append(ticket)
                    self._ensure_thread()
                    self._cond.notify_all()
        if refuse:
            log.debug("[%s] console disabled or closed: no prompt", client_id)
            ticket.answer(None, NO_PHONE)
        return ticket

    def cancel(self, ticket: PromptTicket) -> None:
        """The client is gone: drop its queued prompt or end its active one; on_answer is not called."""
        with ticket.lock:
            if ticket.answered or ticket.cancelled:
                return
            ticket.cancelled = True
        with self._cond:
            try:
                self._queue.remove(ticket)
            except ValueError:
                pass  # active (or being taken): the console thread sees `cancelled`
            self._cond.notify_all()
        self._wake()

    def show_pairing_code(self, client_id: str, code: str) -> None:
        """Print the pairing code and the steps to enter it on the phone (console only, never logged)."""
        self._say(f"[{client_id}] Pairing code: {code}\n[{client_id}] {LINK_STEPS}")

    def show_qr(self, client_id: str, data: str) -> None:
        """Print the QR code as terminal text (console only, never logged)."""
        from .qr import qr_text

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
        if thread is not None and not thread.is_alive():
            self._flush_messages(None)
            self._close_wake_pipe()

    def log_handler(self, stream=None) -> logging.Handler:
        """A logging handler (default: stderr) that keeps a waiting prompt readable: a record
        logged while a prompt waits goes on its own line and the prompt is shown again below it."""
        return PromptAwareHandler(self, stream)

    # ---- output ------------------------------------------------------------------------------
    def _write(self, text: str, showing: str | None = None) -> None:
        """Write text; `showing` is the prompt the cursor stands after once it is written."""
        with CONSOLE_LOCK:
            self._showing = showing
            try:
                self._out.write(text)
                self._out.flush()
            except (OSError, ValueError):
                pass  # the terminal went away; nothing to tell

    def _write_above(self, text: str, stream) -> None:
        """Write text (ending in a newline) to stream, above the waiting prompt if there is one."""
        with CONSOLE_LOCK:
            showing = self._showing
            try:
                if showing is not None:
                    self._out.write("\n")
                    self._out.flush()
                stream.write(text)
                stream.flush()
                if showing is not None:
                    self._out.write(showing + self._pending.decode("utf-8", "replace"))
                    self._out.flush()
            except (OSError, ValueError):
                pass

    def _say(self, message: str) -> None:
        with self._cond:
            direct = self._thread is None or self._closing
            if not direct:
                self._messages.append(message)
                self._cond.notify_all()
        if direct:
            self._write(message + "\n")
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
                self._write(text)
            else:
                self._write("\n" + text + prompt + self._pending.decode("utf-8", "replace"), showing=prompt)

    # ---- the console thread ------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        """Start wa-console (called with self._cond held)."""
        if self._thread is None:
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
            self._thread = threading.Thread(target=self._serve, name="wa-console", daemon=True)
            self._thread.start()

    def _wake(self) -> None:
        with self._cond:  # never write to a descriptor number that close() has just released
            if self._wake_w < 0:
                return
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass  # already full of wake-ups

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except OSError:
            pass

    def _close_wake_pipe(self) -> None:
        with self._cond:
            fds, self._wake_r, self._wake_w = (self._wake_r, self._wake_w), -1, -1
        for fd in fds:
            if fd >= 0:
                os.close(fd)

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
                    with CONSOLE_LOCK:
                        self._showing = None
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

    def _prompt(self, ticket: PromptTicket) -> None:
        client_id = ticket.client_id
        if ticket.cancelled:
            return
        if not self._eof:
            self._discard_typed_ahead()
        if self._eof:
            self._write(f"[{client_id}] No console input (stdin is closed): pair it over the API "
                        f"(POST /api/clients/{client_id}/pair with a phone).\n")
            log.info("[%s] console prompt skipped: stdin is closed", client_id)
            ticket.answer(None, NO_PHONE)
            return
        deadline = time.monotonic() + self._timeout  # counted from the moment the prompt appears
        prompt = PROMPT.format(id=client_id)
        self._write(prompt, showing=prompt)
        tries = 0
        while True:
            line = self._read_line(ticket, deadline, prompt)
            if ticket.cancelled:
                self._write(f"\n[{client_id}] pairing cancelled\n")
                log.debug("[%s] console prompt cancelled", client_id)
                return
            if line is None:
                if self._closing:
                    why, short = "the server is stopping", "closing"
                elif self._eof:
                    why, short = "stdin is closed", "eof"
                else:
                    why, short = f"no answer within {self._timeout:g}s", "timeout"
                self._write(f"\n[{client_id}] {why}: pairing stopped (pair it again over the API).\n")
                log.info("[%s] console prompt ended without a number (%s)", client_id, short)
                ticket.answer(None, NO_PHONE)
                return
            try:
                digits = normalize_phone(line, "phone")
            except InvalidField as exc:
                tries += 1
                reason = _console_reason(exc)
                if tries >= self._max_tries:
                    self._write(f"[{client_id}] {reason} No valid number after {tries} tries: "
                                "pairing stopped (pair it again over the API).\n")
                    log.info("[%s] console prompt ended without a number (%d invalid tries)", client_id, tries)
                    ticket.answer(None, NO_PHONE)
                    return
                left = self._max_tries - tries
                self._write(f"[{client_id}] {reason} Try again ({left} {'try' if left == 1 else 'tries'} left).\n"
                            + prompt, showing=prompt)
                continue
            log.debug("[%s] console prompt answered", client_id)
            ticket.answer(digits, None)
            return

    # ---- input -------------------------------------------------------------------------------
    def _foreground(self) -> bool:
        """False while this process is a background job of the terminal (reading would stop it)."""
        if not self._tty:
            return True
        try:
            return os.tcgetpgrp(self._fd) == os.getpgrp()
        except OSError:  # not our controlling terminal: no job control applies
            return True

    def _read_chunk(self) -> bytes | None:
        """Whatever stdin has now; b"" for end-of-file (or a terminal that went away), None if
        nothing after all (a non-blocking descriptor that another reader emptied)."""
        try:
            return os.read(self._fd, _READ_CHUNK)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EBADF, errno.ENXIO):
                return b""
            raise

    def _discard_typed_ahead(self) -> None:
        """Drop complete lines typed while no prompt was showing: they answer no prompt."""
        self._pending = b""
        if not self._foreground():
            return
        while True:
            try:
                ready, _, _ = select.select([self._fd], [], [], 0)
            except (OSError, ValueError):
                self._eof = True
                return
            if not ready:
                return
            chunk = self._read_chunk()
            if chunk is None:
                return
            if not chunk:
                self._eof = True
                return

    def _read_line(self, ticket: PromptTicket, deadline: float, prompt: str) -> str | None:
        """One line for this prompt, or None on timeout, EOF, cancel or close."""
        told_background = False
        while b"\n" not in self._pending:
            if ticket.cancelled or self._closing:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if self._foreground():
                fds, wait = [self._fd, self._wake_r], left
            else:
                if not told_background:
                    told_background = True
                    self._write(f"\n[{ticket.client_id}] The server runs in the background: bring it to the "
                                f"foreground (fg) to answer.\n{prompt}", showing=prompt)
                fds, wait = [self._wake_r], min(left, _BACKGROUND_POLL)
            try:
                ready, _, _ = select.select(fds, [], [], wait)
            except (OSError, ValueError):
                self._eof = True
                return None
            if self._wake_r in ready:
                self._drain_wake()
                self._flush_messages(prompt)
            if self._fd in ready:
                chunk = self._read_chunk()
                if chunk is None:
                    continue
                if not chunk:
                    self._eof = True
                    if self._pending.strip():
                        break  # a last line without a newline still counts
                    return None
                self._pending += chunk
        with CONSOLE_LOCK:
            line, _, self._pending = self._pending.partition(b"\n")
            self._showing = None  # Enter moved the cursor to a new line
        return line.decode("utf-8", "replace").rstrip("\r")


class PromptAwareHandler(logging.StreamHandler):
    """A StreamHandler whose records never end up glued to a waiting console prompt."""

    def __init__(self, prompter: ConsolePrompter, stream=None):
        super().__init__(stream if stream is not None else sys.stderr)
        self._prompter = prompter

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._prompter._write_above(text, self.stream)
