"""The simulator's conversation: presence, reactions, edits, revokes, calls, number checks, contacts,
pictures and the own profile, each with its effect on the other side of the loopback network.

Who appears as whom, as on WhatsApp: something addressed to a number's LID ('<lid>@lid') arrives
from the sender's LID, and names the sender's phone number only when the two have exchanged
messages before (they are contacts); addressed to a phone JID it comes from the sender's phone JID.

Originating an action: POST /api/messages/react|edit|revoke send one through the queue (`act_on`);
besides, a text sent through the normal send path that starts with `/sim ` is taken by the
simulator as the user doing it on the phone instead
(the send still succeeds, nothing else arrives): `/sim react <messageId> <emoji>`, `/sim unreact
<messageId>`, `/sim edit <messageId> <new text>`, `/sim revoke <messageId>`, `/sim call` and
`/sim call video`. A real backend never reads texts this way.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from ..action_kinds import Action, EditOut, ReactionOut, RevokeOut
from ..conversation_api import (CallOffered, KnownContact, MessageEdited, MessageReacted, MessageRevoked,
                               PresenceSeen, Profile)
from .simnet import LID_SERVER, SimNetwork, lid_jid, phone_jid

COMMAND = "/sim "
ABOUT = "Hey there! I am using WhatsApp."
PICTURE_URL = "https://simulator.invalid/picture/{user}.jpg"  # .invalid: never fetched, never resolves


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SimConversation:
    """Mixed into SimulatorSession, which provides `_network`, `_client_id` and `_require_connected()`
    (the session's number; NotConnected when offline)."""

    _network: SimNetwork
    _client_id: str

    def _as_seen_by(self, number: str, to_jid: str) -> tuple[str, str | None]:
        """(the sender's JID, its phone digits or None) as the addressee of to_jid sees this number."""
        if to_jid.partition("@")[2] != LID_SERVER:
            return phone_jid(number), number
        recipient = self._network.resolve(to_jid)
        return lid_jid(number), number if recipient and self._network.knows(recipient, number) else None

    # ---- presence and calls -----------------------------------------------------------------
    def send_presence(self, state: str, chat: str | None = None) -> None:
        number = self._require_connected()
        if number is None:
            return
        if chat is None:
            event = PresenceSeen(phone_jid(number), number, state)
            self._network.signal(list(self._network.peers(number)), event)
            return
        recipient = self._network.resolve(chat)
        if recipient is not None:
            jid, phone = self._as_seen_by(number, chat)
            self._network.signal([recipient], PresenceSeen(jid, phone, state, chat=jid))

    def call(self, to_jid: str, video: bool = False) -> str:
        """Ring the number to_jid names (sim only); returns the call id."""
        number = self._require_connected()
        call_id = secrets.token_hex(16).upper()
        if number is not None:
            jid, phone = self._as_seen_by(number, to_jid)
            self._network.send(number, to_jid, CallOffered(call_id, jid, phone, video, _now()), receipts=False)
        return call_id

    def reject_call(self, caller: str, call_id: str) -> None:
        self._require_connected()  # the caller's phone stops ringing; no event of ours tells it

    # ---- actions on messages (sim only until the API has routes for them) -------------------
    def act_on(self, to_jid: str, action: Action, message_id: str) -> None:
        """A reaction, edit or revoke sent through the queue (POST /api/messages/react|edit|revoke)."""
        target = action.target.message_id
        match action:
            case ReactionOut(emoji=emoji):  # the other side's own message when ours is not (a 1:1 chat)
                self.react(to_jid, target, emoji, message_id, target_from_me=not action.target.from_me)
            case EditOut(text=text):
                self.edit(to_jid, target, text)
            case RevokeOut():
                self.revoke(to_jid, target)

    def react(self, to_jid: str, target_id: str, emoji: str, message_id: str | None = None,
              target_from_me: bool = False) -> None:
        self._act(to_jid, lambda jid, phone, number: MessageReacted(
            message_id or "3EB0" + secrets.token_hex(9).upper(), jid, jid, phone, False, emoji, target_id,
            target_from_me, _now()))

    def edit(self, to_jid: str, target_id: str, text: str) -> None:
        self._act(to_jid, lambda jid, phone, number: MessageEdited(target_id, jid, jid, phone, False, text, _now()))

    def revoke(self, to_jid: str, target_id: str) -> None:
        self._act(to_jid, lambda jid, phone, number: MessageRevoked(target_id, jid, jid, phone, False, _now()))

    def _act(self, to_jid: str, build) -> None:
        number = self._require_connected()
        if number is not None:
            jid, phone = self._as_seen_by(number, to_jid)
            self._network.send(number, to_jid, build(jid, phone, number), receipts=False)

    def run_command(self, to_jid: str, text: str) -> bool:
        """A `/sim ...` text done as the action it names; False for any other text (sent as a text)."""
        if not text.startswith(COMMAND):
            return False
        verb, _, rest = text[len(COMMAND):].strip().partition(" ")
        target, _, arg = rest.strip().partition(" ")
        actions = {"react": lambda: self.react(to_jid, target, arg.strip()),
                   "unreact": lambda: self.react(to_jid, target, ""),
                   "edit": lambda: self.edit(to_jid, target, arg),
                   "revoke": lambda: self.revoke(to_jid, target),
                   "call": lambda: self.call(to_jid, video=target == "video")}
        action = actions.get(verb)
        if action is None or (verb != "call" and not target):
            return False  # not an action (or one without its message id): sent as a text
        action()
        return True

    # ---- lookups ------------------------------------------------------------------------------
    def check_numbers(self, digits: list[str]) -> dict[str, str | None]:
        self._require_connected()
        return {number: self._network.lookup(number) for number in digits}  # one "round trip"

    def contacts(self) -> list[KnownContact]:
        number = self._require_connected()
        peers = self._network.peers(number) if number else {}
        return [KnownContact(phone_jid(peer), peer, None, name) for peer, name in peers.items()]

    def picture_url(self, jid: str) -> str | None:
        self._require_connected()
        number = self._network.resolve(jid)
        return None if number is None else PICTURE_URL.format(user=number)

    def profile(self) -> Profile:
        number = self._require_connected()
        return Profile(phone_jid(number) if number else None, self._client_id, ABOUT)
