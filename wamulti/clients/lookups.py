"""A READY client's lookups and momentary signals: presence, "is this number on WhatsApp?", contacts,
profile pictures, its own profile. Not queued: nothing here is ordered after a send, and a
presence that waited behind a queue would be stale. They run on the request's thread against the
current session (backend_api: the lookups' threading contract); the backend's errors become domain
errors: a lost connection is 503 client_not_ready, WhatsApp's refusal 502.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

from ..backends.backend_api import BackendError, BackendSession, NotConnected, Unsupported
from ..backends.conversation_api import KnownContact, Profile
from ..errors import InvalidField, NoPicture, NotReady, Upstream
from ..fields.phone import normalize_phone
from ..sending.recipients import RecipientBook

CHAT_STATES = ("composing", "recording", "paused")  # in a chat
ACCOUNT_STATES = ("available", "unavailable")  # the account's own, without a chat
CHECK_MAX_NUMBERS = 50  # per request: one round trip to WhatsApp; bulk checks are what gets accounts limited


@dataclass(frozen=True)
class NumberCheck:
    """One entry of a check: what was asked, and WhatsApp's answer (or why it was not asked)."""

    input: str
    on_whatsapp: bool | None  # None: the entry is not a phone number (error says why)
    jid: str | None
    error: str | None = None


class Lookups:
    """One client's lookups; `ready()` is the worker's: (session, sender) while READY, else None."""

    def __init__(self, client_id: str, ready: Callable[[], tuple | None], state: Callable[[], str],
                 book: RecipientBook):
        self._client_id = client_id
        self._ready, self._state = ready, state
        self._book = book

    def presence(self, state: str, chat: str | None) -> None:
        """Send a presence now; InvalidField when the state does not fit (chat states need a chat)."""
        allowed = CHAT_STATES if chat is not None else ACCOUNT_STATES
        if state not in allowed:
            where = "with 'chat'" if chat is not None else "without 'chat'"
            raise InvalidField("state", f"Field 'state' must be one of {', '.join(allowed)} {where}.")
        with self._call("presence") as session:
            session.send_presence(state, chat)

    def check(self, numbers: list) -> list[NumberCheck]:
        """Each entry's answer in the order asked; numbers not remembered go to WhatsApp in one call."""
        digits: list[str | None] = []
        errors: list[str | None] = []
        for index, value in enumerate(numbers):
            try:
                digits.append(normalize_phone(value, f"numbers[{index}]"))
                errors.append(None)
            except InvalidField as exc:
                digits.append(None)
                errors.append(exc.message)
        valid = [d for d in digits if d is not None]
        with self._call("number check") as session:  # READY even when no entry is a number: one answer
            answers = self._book.resolve_many(valid, session.check_numbers) if valid else {}
        return [NumberCheck(str(value), None, None, error) if d is None
                else NumberCheck(str(value), answers[d] is not None, answers[d])
                for value, d, error in zip(numbers, digits, errors)]

    def contacts(self) -> list[KnownContact]:
        with self._call("contact list") as session:
            return sorted(session.contacts(), key=lambda c: c.jid)

    def picture(self, jid: str) -> str:
        with self._call("profile picture") as session:
            url = session.picture_url(jid)
        if url is None:
            raise NoPicture(f"'{jid}' has no profile picture this account may see.")
        return url

    def profile(self) -> Profile:
        with self._call("profile") as session:
            return session.profile()

    @contextlib.contextmanager
    def _call(self, what: str):
        ready = self._ready()
        if ready is None:
            state = self._state()
            raise NotReady(f"Client '{self._client_id}' is {state}, not READY.", current_state=state)
        session: BackendSession = ready[0]
        try:
            yield session
        except NotConnected as exc:
            raise NotReady(f"Client '{self._client_id}' lost its connection: {exc}.",
                           current_state=self._state()) from None
        except Unsupported as exc:
            raise Upstream(f"The {what} is not available: {exc}.") from None
        except BackendError as exc:
            raise Upstream(f"WhatsApp refused or failed the {what}: {exc}.") from None
