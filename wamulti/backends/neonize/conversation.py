"""The neonize session's lookups and signals (neonize 0.5.2 entry points, read in its client.py):

- presence: `send_chat_presence(jid, ChatPresence, ChatPresenceMedia)` (composing = COMPOSING/TEXT,
  recording = COMPOSING/AUDIO, paused = PAUSED/TEXT) and `send_presence(Presence.AVAILABLE|UNAVAILABLE)`.
- number checks: `is_on_whatsapp(*numbers)` takes many numbers in one query; each answer names its
  `Query`. neonize answers "Function returned nothing." when WhatsApp knew none of them.
- contacts: `client.contact.get_all_contacts()` (the session's contact store, a local read).
- pictures: `get_profile_picture(jid)` -> ProfilePictureInfo.URL; whatsmeow's "that user or group
  does not have a profile picture" and "the user has hidden their profile picture from you" mean none.
- own profile: `get_me()` (Device: JID, PushName) and `get_user_info(own JID)` (UserInfo.Status).
- calls: `reject_call(caller JID as the offer gave it, call id)`.

Hazard 2 (docs/neonize.md): `get_me()` and the contact store abort the process on a client with no
Go entry. They run only inside `EntryCalls.enter()`, which refuses once the session stops, and
stop() waits for the ones under way (`EntryCalls.close()`) before Go's Stop removes the entry. Every
call goes through GoCalls (the contact store's library too: seams/neonize_internals.py), so the Go
lock is held as for a send.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable

from .. import backend_api as bk
from .. import conversation_api as cv
from .outgoing import EMPTY_ANSWER, jid_from_answers, jid_proto, jid_string

NO_PICTURE = ("does not have a profile picture", "has hidden their profile picture")
ENTRY_CLOSE_WAIT = 5.0  # seconds stop() waits for entry calls (local reads) before stopping anyway


class EntryCalls:
    """Counts the calls that need the client's Go entry; close() refuses new ones and waits for the rest."""

    def __init__(self):
        self._cond = threading.Condition()
        self._count = 0
        self._closed = False

    @contextlib.contextmanager
    def enter(self, alive: Callable[[], bool]):
        with self._cond:
            if self._closed or not alive():
                raise bk.NotConnected("not connected")
            self._count += 1
        try:
            yield
        finally:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()

    def close(self, timeout: float = ENTRY_CLOSE_WAIT) -> bool:
        """No entry call starts from now on; True once none is under way (within timeout)."""
        with self._cond:
            self._closed = True
            return self._cond.wait_for(lambda: self._count == 0, timeout)


def chat_presence(client, state: str, chat: str) -> None:
    from neonize.utils.enum import ChatPresence, ChatPresenceMedia

    kind = ChatPresence.CHAT_PRESENCE_PAUSED if state == "paused" else ChatPresence.CHAT_PRESENCE_COMPOSING
    media = ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO if state == "recording" else \
        ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
    client.send_chat_presence(jid_proto(chat), kind, media)


def account_presence(client, state: str) -> None:
    from neonize.utils.enum import Presence

    client.send_presence(Presence.AVAILABLE if state == "available" else Presence.UNAVAILABLE)


def check_numbers(client, digits: list[str], library_error: type[Exception]) -> dict[str, str | None]:
    """Every number in one is_on_whatsapp query: digits -> the JID to use, None when not on WhatsApp."""
    try:
        answers = list(client.is_on_whatsapp(*(f"+{d}" for d in digits)))
    except library_error as exc:
        if str(exc).strip() == EMPTY_ANSWER:
            return {d: None for d in digits}
        raise
    if len(digits) == 1:  # the only answer is this number's, even if WhatsApp wrote the query back otherwise
        return {digits[0]: jid_from_answers(answers, digits[0])}
    return {d: jid_from_answers([a for a in answers if a.Query.lstrip("+") == d], d) for d in digits}


def contacts(client) -> list[cv.KnownContact]:
    found = []
    for contact in client.contact.get_all_contacts():
        jid, info = contact.JID, contact.Info
        phone = jid.User if jid.Server == "s.whatsapp.net" and jid.User.isdigit() else None
        found.append(cv.KnownContact(jid_string(jid), phone, info.FullName or info.FirstName or None,
                                     info.PushName or info.BusinessName or None))
    return found


def picture_url(client, jid: str, library_error: type[Exception]) -> str | None:
    try:
        picture = client.get_profile_picture(jid_proto(jid))
    except library_error as exc:
        if any(words in str(exc) for words in NO_PICTURE):
            return None
        raise
    return picture.URL or None


def profile(client) -> cv.Profile:
    """The own JID and push name (get_me), and the about text (get_user_info of the own JID)."""
    me = client.get_me()
    own = me.JID
    about = None
    if own.User:
        bare = jid_proto(f"{own.User}@{own.Server}")  # without the device: the account's info
        infos = client.get_user_info(bare)
        about = next((i.UserInfo.Status for i in infos if i.UserInfo.Status), None)
    return cv.Profile(f"{own.User}@{own.Server}" if own.User else None, me.PushName or None, about)


def reject_call(client, caller: str, call_id: str) -> None:
    client.reject_call(jid_proto(caller), call_id)


class NeonizeConversation:
    """Mixed into NeonizeSession, which provides `client`, `_backend`, `_send_call()` (library errors
    as NotConnected / SendFailed), `_entry_calls` (EntryCalls) and `_has_go_entry()`."""

    def send_presence(self, state: str, chat: str | None = None) -> None:
        with self._send_call():
            chat_presence(self.client, state, chat) if chat is not None else account_presence(self.client, state)

    def check_numbers(self, digits: list[str]) -> dict[str, str | None]:
        with self._send_call():
            return check_numbers(self.client, digits, self._backend.library_error)

    def contacts(self) -> list[cv.KnownContact]:
        with self._entry_calls.enter(self._has_go_entry), self._send_call():
            return contacts(self.client)

    def picture_url(self, jid: str) -> str | None:
        with self._send_call():
            return picture_url(self.client, jid, self._backend.library_error)

    def profile(self) -> cv.Profile:
        with self._entry_calls.enter(self._has_go_entry), self._send_call():
            return profile(self.client)

    def reject_call(self, caller: str, call_id: str) -> None:
        with self._send_call():
            reject_call(self.client, caller, call_id)
