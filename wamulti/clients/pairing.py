"""Pairing: one run's attempt to link a phone, and what the worker needs of the console.

A code can only be requested once the backend opened a QR window, so the phone number waits
here until then; without a number the console is asked for one first. The window opens with a
session's first QR and lasts as long as the backend keeps its login socket open
(`Backend.pairing_window`); a code dies with it. Worker thread only.
"""

from __future__ import annotations

from typing import Callable, Protocol

from ..backends.backend_api import BackendSession
from .inbox import PhoneAnswer


class Prompter(Protocol):
    """What the worker and the registry need of the pairing console (wamulti.console.ConsolePrompter)."""

    @property
    def enabled(self) -> bool:
        """Whether phone numbers can be asked for at all."""

    def request_phone(self, client_id: str, on_answer: Callable[[str | None, str | None], None]) -> object:
        """Queue a prompt; on_answer(digits, None) or (None, reason) is called once; returns a ticket."""

    def cancel(self, ticket: object) -> None:
        """Withdraw a prompt; its on_answer is then never called."""

    def show_pairing_code(self, client_id: str, code: str, expires_in: float | None = None) -> None:
        """Show the code to the person who typed the number (and how many seconds it works)."""


class Pairing:
    """The phone number waiting for a QR window, and the console prompt that may supply it."""

    def __init__(self, client_id: str, prompter: Prompter, post: Callable[[object], None]):
        self._client_id = client_id
        self._prompter = prompter
        self._post = post  # puts a message in the worker's inbox
        self.phone: str | None = None  # digits to request a code for, once a QR window opens
        self._by_console = False  # the number was typed: the code is shown on the console too
        self._ticket: object | None = None
        self.window_open = False  # the current session showed its first QR: its code window runs
        self.window_seconds: float | None = None  # how long that window lasts, when known

    def use_phone(self, phone: str) -> None:
        """Pair with a number the API gave."""
        self._by_console, self.phone = False, phone

    def ask_console(self) -> None:
        """Ask the console for the number; the answer arrives in the inbox as PhoneAnswer."""
        self._by_console = True
        self._ticket = self._prompter.request_phone(
            self._client_id, lambda digits, reason: self._post(PhoneAnswer(digits, reason)))

    def answered(self, digits: str | None) -> None:
        """The console answered (digits, or None when it gave up)."""
        self._ticket = None
        if digits is not None:
            self.phone = digits

    def request_code(self, session: BackendSession) -> str:
        """Ask the backend for a code for the waiting number; raises BackendError."""
        code = session.pair_phone(self.phone)
        if self._by_console:
            self._prompter.show_pairing_code(self._client_id, code, expires_in=self.window_seconds)
        return code

    def open_window(self, seconds: float | None) -> None:
        """The session showed its first QR; the window lasts `seconds` (None: unknown)."""
        self.window_open, self.window_seconds = True, seconds

    def close_window(self) -> None:
        """The session ended: its QR window and any code of it are void."""
        self.window_open, self.window_seconds = False, None

    def linked(self) -> None:
        """The phone accepted: no number waits any longer."""
        self.phone = None

    def cancel_prompt(self) -> None:
        if self._ticket is not None:
            self._prompter.cancel(self._ticket)
            self._ticket = None

    def abandon(self) -> None:
        """Give up this attempt: withdraw the prompt and forget the number."""
        self.cancel_prompt()
        self.close_window()
        self.phone = None
